// Episodes: the table of a scenario run's episodes and outcome-by-parameter bar charts.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, type EpisodeStats, type EpisodesResponse } from "../../api";
import { formatDate, formatDuration, formatValue, useInterval } from "../../util";

const PAGE = 500;
const OUTCOME_COLORS: Record<string, string> = {
  SUCCESS: "#2b8a3e",
  FAILED: "#e03131",
  ERRORED: "#f08c00",
  CANCELED: "#868e96",
  RUNNING: "#1c7ed6",
  INTERRUPTED: "#ae3ec9",
};
const OUTCOMES = Object.keys(OUTCOME_COLORS);

export function EpisodesTab({ runId, live }: { runId: string; live: boolean }) {
  const [data, setData] = useState<EpisodesResponse | null>(null);
  const [limit, setLimit] = useState(PAGE);
  const [param, setParam] = useState<string>("");
  const [outcome, setOutcome] = useState<string>("status");
  const [stats, setStats] = useState<EpisodeStats | null>(null);

  const load = () => api.episodes(runId, 0, limit).then(setData, () => undefined);
  useEffect(() => {
    void load();
  }, [runId, limit]);
  useInterval(() => void load(), 2000, live);

  const params = useMemo(
    () => (data?.columns ?? []).filter((c) => c.startsWith("params.")).map((c) => c.slice(7)),
    [data?.columns.join("\n")],
  );
  useEffect(() => {
    if (!param && params.length) setParam(params[0]);
  }, [params]);
  const metricsCols = useMemo(
    () => (data?.columns ?? []).filter((c) => c.startsWith("metrics.")).map((c) => c.slice(8)),
    [data?.columns.join("\n")],
  );
  useEffect(() => {
    if (!param) return;
    api.episodeStats(runId, param, outcome).then(setStats, () => setStats(null));
  }, [runId, param, outcome, live ? data?.total : 0]);

  if (!data) return <div class="muted pad">Loading episodes…</div>;
  const cols = data.columns;
  const statRows = (stats?.rows ?? []).filter((r) => !("parameter" in r) || r.parameter === param);

  return (
    <div class="episodes">
      <section class="card">
        <div class="toolbar">
          <h2 class="card-title">Outcome by parameter</h2>
          <label class="inline-label">
            Parameter
            <select
              class="select"
              data-testid="episode-param-select"
              value={param}
              onChange={(e) => setParam(e.currentTarget.value)}
            >
              {params.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label class="inline-label">
            Outcome
            <select
              class="select"
              data-testid="episode-outcome-select"
              value={outcome}
              onChange={(e) => setOutcome(e.currentTarget.value)}
            >
              <option value="status">status</option>
              {metricsCols.map((m) => (
                <option key={m} value={m}>
                  {m} (mean)
                </option>
              ))}
            </select>
          </label>
          <span class="legend-inline">
            {OUTCOMES.filter((o) => statRows.some((r) => typeof r[o] === "number" && (r[o] as number) > 0)).map((o) => (
              <span key={o} class="legend-chip">
                <span class="swatch" style={{ background: OUTCOME_COLORS[o] }} />
                {o.toLowerCase()}
              </span>
            ))}
          </span>
        </div>
        {params.length === 0 ? (
          <div class="muted pad">No sampled parameters.</div>
        ) : (
          <OutcomeChart rows={statRows} param={param} outcome={outcome} />
        )}
      </section>
      <section class="card">
        <h2 class="card-title">
          Episodes <span class="muted small">{data.total}</span>
        </h2>
        <div class="table-scroll">
          <table class="table dense" data-testid="episodes-table">
            <thead>
              <tr>
                {cols.map((c) => (
                  <th key={c} class="mono">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {data.rows.map((r, i) => (
                <tr key={`${String(r.rank ?? "")}/${String(r.id ?? i)}`} data-testid="episode-row" data-episode-id={String(r.id ?? i)}>
                  {cols.map((c) => (
                    <td key={c} class={typeof r[c] === "number" ? "num mono" : "mono"}>
                      {c === "status" ? (
                        <span class={`badge ep-${String(r[c]).toLowerCase()}`}>{String(r[c] ?? "")}</span>
                      ) : (c === "start" || c === "end") && typeof r[c] === "number" ? (
                        formatDate(r[c] as number)
                      ) : c === "duration" && typeof r[c] === "number" ? (
                        formatDuration(r[c] as number)
                      ) : (
                        formatValue(r[c])
                      )}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {data.rows.length < data.total && (
          <button type="button" class="btn" onClick={() => setLimit((l) => l + PAGE)}>
            Show more ({data.total - data.rows.length} left)
          </button>
        )}
      </section>
    </div>
  );
}

/** Stacked bars of outcome counts per bin, success rate above each bar. */
function OutcomeChart({ rows, param, outcome }: { rows: Record<string, unknown>[]; param: string; outcome: string }) {
  const W = Math.max(360, rows.length * 56 + 80);
  const H = 220;
  const pad = { l: 56, r: 10, t: 22, b: 64 };
  const byMean = outcome !== "status";
  const vals = rows.map((r) => (byMean ? (typeof r.mean === "number" ? r.mean : 0) : Number(r.n ?? 0)));
  const maxN = byMean ? Math.max(...vals.map(Math.abs), 1e-12) : Math.max(1, ...vals);
  const bw = (W - pad.l - pad.r) / Math.max(1, rows.length);
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / maxN);
  return (
    <div class="outcome-wrap">
      <svg
        data-testid="outcome-chart"
        data-param={param}
        class="outcome-chart"
        width={W}
        height={H}
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`Episode ${outcome} by ${param}`}
        data-outcome={outcome}
      >
        <line x1={pad.l} x2={W - pad.r} y1={y(0)} y2={y(0)} stroke="#d0d4da" />
        <text x={pad.l - 6} y={y(maxN) + 4} text-anchor="end" class="axis-text">
          {formatValue(maxN)}
        </text>
        <text x={pad.l - 6} y={y(0) + 4} text-anchor="end" class="axis-text">
          0
        </text>
        {rows.map((r, i) => {
          const x = pad.l + i * bw + bw * 0.15;
          const w = bw * 0.7;
          let acc = 0;
          const rate = r.success_rate;
          return (
            <g key={i} data-bin={String(r.bin)}>
              <title>
                {`${String(r.bin)}: n=${String(r.n)}${OUTCOMES.filter((o) => typeof r[o] === "number")
                  .map((o) => ` ${o.toLowerCase()}=${String(r[o])}`)
                  .join("")}`}
              </title>
              {byMean && typeof r.mean === "number" && (
                <>
                  <rect x={x} y={y(Math.max(0, r.mean))} width={w} height={Math.abs(y(0) - y(r.mean))} fill="#2f7ed8" />
                  <text x={x + w / 2} y={y(Math.max(0, r.mean)) - 4} text-anchor="middle" class="axis-text">
                    {formatValue(r.mean)}
                  </text>
                </>
              )}
              {!byMean && OUTCOMES.map((o) => {
                const v = typeof r[o] === "number" ? (r[o] as number) : 0;
                if (v <= 0) return null;
                const y0 = y(acc);
                acc += v;
                const y1 = y(acc);
                return <rect key={o} x={x} y={y1} width={w} height={Math.max(0, y0 - y1)} fill={OUTCOME_COLORS[o]} />;
              })}
              {!byMean && typeof rate === "number" && (
                <text x={x + w / 2} y={y(acc) - 4} text-anchor="middle" class="axis-text">
                  {Math.round(rate * 100)}%
                </text>
              )}
              <text
                x={x + w / 2}
                y={H - pad.b + 14}
                text-anchor="end"
                transform={`rotate(-30 ${x + w / 2} ${H - pad.b + 14})`}
                class="axis-text"
              >
                {String(r.bin).length > 14 ? `${String(r.bin).slice(0, 13)}…` : String(r.bin)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
