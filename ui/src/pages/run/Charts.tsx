// The Charts and System tabs: one panel per metric, grouped by the prefix before "/".
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, type MetricInfo, type XAxis } from "../../api";
import { MetricPanel } from "../../components/MetricPanel";
import { ChartControls } from "../../components/ChartControls";
import { colorFor, useInterval } from "../../util";

interface Props {
  runId: string;
  live: boolean;
  system: boolean;
}

function prefs<T>(key: string, fallback: T): [T, (v: T) => void] {
  const [v, setV] = useState<T>(() => {
    try {
      const raw = localStorage.getItem(key);
      return raw === null ? fallback : (JSON.parse(raw) as T);
    } catch {
      return fallback;
    }
  });
  return [
    v,
    (nv: T) => {
      setV(nv);
      localStorage.setItem(key, JSON.stringify(nv));
    },
  ];
}

export function ChartsTab({ runId, live, system }: Props) {
  const [metrics, setMetrics] = useState<MetricInfo[] | null>(null);
  const [search, setSearch] = useState("");
  // System metrics are sampled on their own axis (sample 0, 1, 2, ...): time reads better.
  const [xAxis, setXAxis] = prefs<XAxis>(
    system ? "runlab.system.x" : "runlab.chart.x",
    system ? "relative" : "step",
  );
  const [smoothing, setSmoothing] = prefs<number>("runlab.chart.smoothing", 0);
  const [logScale, setLogScale] = useState(false);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());

  const load = () =>
    api.metrics(runId, { quiet: metrics !== null }).then(
      (m) => setMetrics(m.metrics),
      () => setMetrics((cur) => cur ?? []),
    );
  useEffect(() => {
    void load();
  }, [runId]);
  // New keys appear rarely; the panels themselves poll their own new points every 2 s.
  useInterval(() => void load(), 10000, live);
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) void load();
    wasLive.current = live;
  }, [live]);

  const shown = useMemo(() => {
    const s = search.trim().toLowerCase();
    return (metrics ?? [])
      .filter((m) => m.key.startsWith("system/") === system)
      .filter((m) => !s || m.key.toLowerCase().includes(s))
      .sort((a, b) => a.key.localeCompare(b.key));
  }, [metrics, search, system]);

  const groups = useMemo(() => {
    const out = new Map<string, MetricInfo[]>();
    for (const m of shown) {
      let g: string;
      if (system) g = m.key.slice(7).split(/[./]/)[0] || "system";
      else {
        const slash = m.key.indexOf("/");
        g = slash > 0 ? m.key.slice(0, slash) : "charts";
      }
      if (!out.has(g)) out.set(g, []);
      out.get(g)!.push(m);
    }
    return [...out.entries()];
  }, [shown, system]);

  if (metrics === null) return <div class="muted pad">Loading metrics…</div>;
  const total = metrics.filter((m) => m.key.startsWith("system/") === system).length;
  if (system && total === 0)
    return (
      <div class="empty" data-testid="system-empty">
        No system metrics were recorded for this run.
      </div>
    );

  return (
    <div class="charts">
      <div class="toolbar sticky-toolbar">
        <ChartControls
          searchId="chart-search"
          search={search}
          setSearch={setSearch}
          xAxis={xAxis}
          setXAxis={setXAxis}
          smoothing={smoothing}
          setSmoothing={setSmoothing}
          logScale={logScale}
          setLogScale={setLogScale}
        />
        <span class="muted small">
          {shown.length} of {total} panels · drag to zoom, double-click to reset
        </span>
      </div>
      {total === 0 && <div class="empty">No metrics logged yet.</div>}
      {total > 0 && shown.length === 0 && <div class="empty">No panel matches “{search}”.</div>}
      {groups.map(([name, items]) => {
        const open = !collapsed.has(name);
        return (
          <section key={name} class="panel-group">
            <h2 class="group-title">
              <button
                type="button"
                class="group-toggle"
                aria-expanded={open}
                onClick={() => {
                  const next = new Set(collapsed);
                  if (open) next.add(name);
                  else next.delete(name);
                  setCollapsed(next);
                }}
              >
                <span aria-hidden="true">{open ? "▾" : "▸"}</span> {name}{" "}
                <span class="muted small">{items.length}</span>
              </button>
            </h2>
            {open && (
              <div class="panel-grid">
                {items.map((m) => (
                  <MetricPanel
                    key={`${m.key}|${xAxis}`}
                    runId={runId}
                    metric={m.key}
                    xAxis={xAxis}
                    smoothing={smoothing}
                    logScale={logScale}
                    live={live}
                    testid={system ? "system-panel" : "chart-panel"}
                    color={colorFor(0)}
                    last={m.last}
                  />
                ))}
              </div>
            )}
          </section>
        );
      })}
    </div>
  );
}
