// One metric of one run as a lazily rendered, live-appending chart panel.
import type { RefObject } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, type Series, type XAxis } from "../api";
import { Chart, type Line } from "./Chart";
import { formatValue, useInterval } from "../util";

interface Props {
  runId: string;
  metric: string;
  xAxis: XAxis;
  smoothing: number;
  logScale: boolean;
  live: boolean;
  testid: string;
  color: string;
  last?: number | null;
}

const WIDTH = 1000;

/** Becomes true the first time the element scrolls near the viewport, and stays true. */
export function useSeen<T extends Element>(): [RefObject<T>, boolean] {
  const ref = useRef<T>(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || seen) return;
    const io = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) {
          setSeen(true);
          io.disconnect();
        }
      },
      { rootMargin: "1000px 0px" },
    );
    io.observe(el);
    return () => io.disconnect();
  }, [seen]);
  return [ref, seen];
}

export function MetricPanel({ runId, metric, xAxis, smoothing, logScale, live, testid, color, last }: Props) {
  const [ref, seen] = useSeen<HTMLDivElement>();
  const [series, setSeries] = useState<Series | null>(null);
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const busy = useRef(false);

  useEffect(() => {
    if (!seen) return;
    const ctl = new AbortController();
    const params = zoom
      ? { key: metric, x: xAxis, width: WIDTH, x_min: zoom[0], x_max: zoom[1] }
      : { key: metric, x: xAxis, width: WIDTH };
    api.series(runId, params, { signal: ctl.signal }).then(
      (s) => {
        setSeries(s);
        setError(null);
      },
      (e: Error) => {
        if (e.name !== "AbortError") setError(e.message);
      },
    );
    return () => ctl.abort();
  }, [seen, runId, metric, xAxis, zoom?.[0], zoom?.[1]]);

  // Live: ask only for points after the last step we have, and append them.
  const seriesRef = useRef(series);
  seriesRef.current = series;
  const zoomRef = useRef(zoom);
  zoomRef.current = zoom;
  const pullNew = () => {
    const cur = seriesRef.current;
    if (!cur || zoomRef.current || busy.current) return;
    busy.current = true;
    const after = cur.last_step ?? (cur.steps.length ? cur.steps[cur.steps.length - 1] : -1);
    api
      .series(runId, { key: metric, x: xAxis, after_step: after }, { quiet: true })
      .then(
        (s) => {
          if (s.x.length === 0 || zoomRef.current) return;
          setSeries((c) =>
            c
              ? {
                  ...c,
                  x: c.x.concat(s.x),
                  y: c.y.concat(s.y),
                  steps: c.steps.concat(s.steps),
                  total: c.total + s.x.length,
                  last_step: s.last_step ?? s.steps[s.steps.length - 1] ?? c.last_step,
                }
              : s,
          );
        },
        () => undefined,
      )
      .finally(() => (busy.current = false));
  };
  useInterval(pullNew, 2000, live && seen && !!series);
  // One last pull when the run stops, for points logged after the previous poll.
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) window.setTimeout(pullNew, 300);
    wasLive.current = live;
  }, [live]);

  const lines: Line[] = useMemo(
    () => (series ? [{ label: metric, color, x: series.x, y: series.y }] : []),
    [series, metric, color],
  );
  const lastValue = !zoom && series && series.y.length ? series.y[series.y.length - 1] : last;

  return (
    <section
      ref={ref}
      class="panel"
      data-testid={testid}
      data-metric={metric}
      data-points={series ? series.x.length : undefined}
      data-sampled={series ? String(series.sampled) : undefined}
      aria-label={metric}
    >
      <header class="panel-head">
        <h3 class="panel-title" title={metric}>
          {metric}
        </h3>
        <span class="panel-meta">
          {zoom && (
            <button type="button" class="link-btn" onClick={() => setZoom(null)}>
              reset zoom
            </button>
          )}
          {series?.sampled && <span class="muted small" title="Bucketed by the server (min/max kept)">sampled</span>}
          {lastValue !== null && lastValue !== undefined && <span class="mono small">{formatValue(lastValue)}</span>}
        </span>
      </header>
      {error && <div class="panel-error">{error}</div>}
      {!series && !error && <div class="panel-placeholder">{seen ? "Loading…" : ""}</div>}
      {series && series.x.length === 0 && <div class="panel-placeholder">No points</div>}
      {series && series.x.length > 0 && (
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
