// Compare runs: overlaid metric charts (one colour per run) and parallel coordinates.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, type MetricInfo, type RunDetail, type XAxis } from "../api";
import { Chart, type Line } from "../components/Chart";
import { ChartControls } from "../components/ChartControls";
import { useSeen } from "../components/MetricPanel";
import { StatusBadge } from "../components/StatusBadge";
import { Link, paths } from "../router";
import { colorFor, useDocumentTitle } from "../util";
import { ParCoords } from "./ParCoords";

interface Loaded {
  detail: RunDetail;
  metrics: MetricInfo[];
  color: string;
}

export function ComparePage({ project, ids }: { project: string; ids: string[] }) {
  useDocumentTitle(`Compare ${ids.length} runs`);
  const [runs, setRuns] = useState<Loaded[] | null>(null);
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [search, setSearch] = useState("");
  const [xAxis, setXAxis] = useState<XAxis>("step");
  const [smoothing, setSmoothing] = useState(0);
  const [logScale, setLogScale] = useState(false);
  const [showSystem, setShowSystem] = useState(false);

  useEffect(() => {
    let alive = true;
    Promise.all(
      ids.map((id, i) =>
        Promise.all([api.run(id), api.metrics(id)]).then(
          ([detail, m]): Loaded => ({ detail, metrics: m.metrics, color: colorFor(i) }),
          () => null,
        ),
      ),
    ).then((all) => alive && setRuns(all.filter((x): x is Loaded => x !== null)));
    return () => {
      alive = false;
    };
  }, [ids.join(",")]);

  const keys = useMemo(() => {
    const s = new Set<string>();
    for (const r of runs ?? []) for (const m of r.metrics) s.add(m.key);
    const q = search.trim().toLowerCase();
    return [...s]
      .filter((k) => showSystem || !k.startsWith("system/"))
      .filter((k) => !q || k.toLowerCase().includes(q))
      .sort();
  }, [runs, search, showSystem]);

  if (ids.length === 0)
    return (
      <div class="page">
        <div class="empty">
          No runs selected. <Link href={paths.runs(project)}>Pick runs in the table</Link> and press Compare.
        </div>
      </div>
    );
  if (runs === null) return <div class="page muted">Loading runs…</div>;
  const visible = runs.filter((r) => !hidden.has(r.detail.run.id));

  return (
    <div class="page compare-page">
      <div class="page-head">
        <h1 class="page-title">Compare {runs.length} runs</h1>
      </div>
      <div class="legend" role="list" aria-label="Runs">
        {runs.map((r) => {
          const off = hidden.has(r.detail.run.id);
          return (
            <div
              key={r.detail.run.id}
              role="listitem"
              class={`legend-item ${off ? "off" : ""}`}
              data-testid="legend-item"
              data-run-id={r.detail.run.id}
            >
              <button
                type="button"
                class="legend-toggle"
                aria-pressed={!off}
                title={off ? "Show" : "Hide"}
                onClick={() => {
                  const next = new Set(hidden);
                  if (off) next.delete(r.detail.run.id);
                  else next.add(r.detail.run.id);
                  setHidden(next);
                }}
              >
                <span class="swatch" style={{ background: r.color }} />
              </button>
              <Link href={paths.run(r.detail.run.project, r.detail.run.id)}>{r.detail.run.name}</Link>
              <StatusBadge status={r.detail.run.status} />
            </div>
          );
        })}
      </div>
      <section class="card">
        <ParCoords runs={runs.map((r) => ({ run: r.detail.run, color: r.color }))} />
      </section>
      <div class="toolbar sticky-toolbar">
        <ChartControls
          searchId="compare-search"
          search={search}
          setSearch={setSearch}
          xAxis={xAxis}
          setXAxis={setXAxis}
          smoothing={smoothing}
          setSmoothing={setSmoothing}
          logScale={logScale}
          setLogScale={setLogScale}
        />
        <label class="inline-label">
          <input type="checkbox" checked={showSystem} onChange={(e) => setShowSystem(e.currentTarget.checked)} />
          System metrics
        </label>
      </div>
      {keys.length === 0 && <div class="empty">No metrics to compare.</div>}
      <div class="panel-grid">
        {keys.map((k) => (
          <ComparePanel
            key={`${k}|${xAxis}`}
            metric={k}
            runs={visible.filter((r) => r.metrics.some((m) => m.key === k))}
            xAxis={xAxis}
            smoothing={smoothing}
            logScale={logScale}
          />
        ))}
      </div>
    </div>
  );
}

function ComparePanel({
  metric,
  runs,
  xAxis,
  smoothing,
  logScale,
}: {
  metric: string;
  runs: Loaded[];
  xAxis: XAxis;
  smoothing: number;
  logScale: boolean;
}) {
  const [ref, seen] = useSeen<HTMLDivElement>();
  const [lines, setLines] = useState<Line[] | null>(null);
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const runKey = runs.map((r) => r.detail.run.id).join(",");

  useEffect(() => {
    if (!seen) return;
    const ctl = new AbortController();
    Promise.all(
      runs.map((r) =>
        api
          .series(
            r.detail.run.id,
            zoom ? { key: metric, x: xAxis, width: 1000, x_min: zoom[0], x_max: zoom[1] } : { key: metric, x: xAxis, width: 1000 },
            { signal: ctl.signal },
          )
          .then(
            (s): Line => ({ label: r.detail.run.name, color: r.color, x: s.x, y: s.y }),
            () => null,
          ),
      ),
    ).then((ls) => {
      if (!ctl.signal.aborted) setLines(ls.filter((l): l is Line => l !== null && l.x.length > 0));
    });
    return () => ctl.abort();
  }, [seen, metric, xAxis, runKey, zoom?.[0], zoom?.[1]]);

  return (
    <section ref={ref} class="panel" data-testid="compare-chart" data-metric={metric} data-runs={lines?.length} aria-label={metric}>
      <header class="panel-head">
        <h3 class="panel-title" title={metric}>
          {metric}
        </h3>
        {zoom && (
          <button type="button" class="link-btn" onClick={() => setZoom(null)}>
            reset zoom
          </button>
        )}
      </header>
      {!lines && <div class="panel-placeholder">{seen ? "Loading…" : ""}</div>}
      {lines && lines.length === 0 && <div class="panel-placeholder">No points</div>}
      {lines && lines.length > 0 && (
        <Chart
          lines={lines}
          xAxis={xAxis}
          smoothing={smoothing}
          logScale={logScale}
          onZoom={(a, b) => setZoom([a, b])}
          onReset={() => setZoom(null)}
        />
      )}
    </section>
  );
}
