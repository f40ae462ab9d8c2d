import type { XAxis } from "../api";

/** The chart toolbar's panel search, axis, smoothing and scale controls, shared by the run
 * and compare pages. */
export function ChartControls(props: {
  searchId: string;
  search: string;
  setSearch: (s: string) => void;
  xAxis: XAxis;
  setXAxis: (x: XAxis) => void;
  smoothing: number;
  setSmoothing: (s: number) => void;
  logScale: boolean;
  setLogScale: (on: boolean) => void;
}) {
  const { searchId, search, setSearch, xAxis, setXAxis, smoothing, setSmoothing } = props;
  const { logScale, setLogScale } = props;
  return (
    <>
      <label class="sr-only" for={searchId}>
        Search panels
      </label>
      <input
        id={searchId}
        class="input search"
        type="search"
        data-testid="chart-search"
        placeholder="Search panels"
        value={search}
        onInput={(e) => setSearch(e.currentTarget.value)}
      />
      <label class="inline-label">
        X axis
        <select
          class="select"
          data-testid="x-axis-select"
          value={xAxis}
          onChange={(e) => setXAxis(e.currentTarget.value as XAxis)}
        >
          <option value="step">Step</option>
          <option value="time">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label class="inline-label">
        Smoothing
        <input
          type="range"
          data-testid="smoothing-slider"
          min={0}
          max={0.99}
          step={0.01}
          value={smoothing}
          onInput={(e) => setSmoothing(Number(e.currentTarget.value))}
        />
        <span class="mono small smoothing-value">{smoothing.toFixed(2)}</span>
      </label>
      <label class="inline-label">
        <input
          type="checkbox"
          data-testid="log-scale-toggle"
          checked={logScale}
          onChange={(e) => setLogScale(e.currentTarget.checked)}
        />
        Log scale
      </label>
    </>
  );
}
