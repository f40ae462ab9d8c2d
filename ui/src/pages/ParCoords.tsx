// A small parallel-coordinates plot: one axis per config key, the last one a chosen summary metric.
import { useMemo, useState } from "preact/hooks";
import type { RunRow, Scalar } from "../api";
import { formatValue } from "../util";

interface Props {
  runs: { run: RunRow; color: string }[];
}

interface Axis {
  key: string;
  label: string;
  numeric: boolean;
  /** Positive values spanning a decade or more (learning rates) get a log axis. */
  log: boolean;
  min: number;
  max: number;
  categories: string[];
}

const MAX_CONFIG_AXES = 10;

function makeAxis(key: string, label: string, values: (Scalar | undefined)[]): Axis {
  const present = values.filter((v): v is Scalar => v !== undefined && v !== null);
  const numeric = present.length > 0 && present.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric) {
    const nums = present as number[];
    let min = Math.min(...nums);
    let max = Math.max(...nums);
    const log = min > 0 && max / min >= 10;
    if (min === max) {
      min -= Math.abs(min) * 0.5 || 1;
      max += Math.abs(max) * 0.5 || 1;
    }
    return { key, label, numeric, log, min, max, categories: [] };
  }
  const cats = [...new Set(present.map((v) => String(v)))].sort();
  return { key, label, numeric: false, log: false, min: 0, max: 0, categories: cats };
}

/** 0 (bottom) .. 1 (top), or null when the run has no value. */
function position(axis: Axis, v: Scalar | undefined): number | null {
  if (v === undefined || v === null) return null;
  if (axis.numeric) {
    if (typeof v !== "number") return null;
    if (axis.log) return Math.log(v / axis.min) / Math.log(axis.max / axis.min);
    return (v - axis.min) / (axis.max - axis.min);
  }
  const i = axis.categories.indexOf(String(v));
  if (i < 0) return null;
  return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
}

export function ParCoords({ runs }: Props) {
  const summaryKeys = useMemo(() => {
    const s = new Set<string>();
    for (const { run } of runs)
      for (const [k, v] of Object.entries(run.summary ?? {})) if (typeof v === "number") s.add(k);
    return [...s].sort((a, b) => Number(a.startsWith("system/")) - Number(b.startsWith("system/")) || a.localeCompare(b));
  }, [runs]);
  const [metric, setMetric] = useState<string>("");
  const chosen = metric && summaryKeys.includes(metric) ? metric : (summaryKeys[0] ?? "");
  const [hover, setHover] = useState<string | null>(null);

  const axes = useMemo(() => {
    const keys = new Set<string>();
    for (const { run } of runs) for (const k of Object.keys(run.config ?? {})) keys.add(k);
    const all = [...keys].sort();
    const varying = all.filter((k) => new Set(runs.map(({ run }) => JSON.stringify(run.config?.[k] ?? null))).size > 1);
    const use = (varying.length ? varying : all).slice(0, MAX_CONFIG_AXES);
    const out = use.map((k) => makeAxis(`config.${k}`, k, runs.map(({ run }) => run.config?.[k])));
    if (chosen) out.push(makeAxis(`summary.${chosen}`, chosen, runs.map(({ run }) => run.summary?.[chosen])));
    return out;
  }, [runs, chosen]);

  const W = 960;
  const H = 300;
  const pad = { l: 60, r: 80, t: 36, b: 24 };
  const step = axes.length > 1 ? (W - pad.l - pad.r) / (axes.length - 1) : 0;
  const ax = (i: number) => pad.l + i * step;
  const ay = (p: number) => pad.t + (H - pad.t - pad.b) * (1 - p);

  return (
    <div class="parcoords-wrap">
      <div class="toolbar">
        <h2 class="card-title">Parallel coordinates</h2>
        <label class="inline-label">
          Metric
          <select
            class="select"
            data-testid="parcoords-metric"
            value={chosen}
            onChange={(e) => setMetric(e.currentTarget.value)}
          >
            {summaryKeys.length === 0 && <option value="">(no numeric summary)</option>}
            {summaryKeys.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
      </div>
      <svg
        data-testid="parcoords"
        data-metric={chosen}
        class="parcoords"
        viewBox={`0 0 ${W} ${H}`}
        preserveAspectRatio="xMidYMid meet"
        role="img"
        aria-label={`Parallel coordinates of config keys and ${chosen || "no metric"}`}
      >
        {axes.length < 2 && (
          <text x={W / 2} y={H / 2} text-anchor="middle" class="axis-text">
            Needs at least one config key and a summary metric.
          </text>
        )}
        {axes.length >= 2 &&
          runs.map(({ run, color }) => {
            const pts: string[] = [];
            let segs: string[] = [];
            axes.forEach((a, i) => {
              const p = position(a, a.key.startsWith("config.") ? run.config?.[a.label] : run.summary?.[a.label]);
              if (p === null) {
                if (segs.length) pts.push(segs.join(" "));
                segs = [];
              } else segs.push(`${segs.length ? "L" : "M"}${ax(i).toFixed(1)},${ay(p).toFixed(1)}`);
            });
            if (segs.length) pts.push(segs.join(" "));
            const dim = hover !== null && hover !== run.id;
            return (
              <path
                key={run.id}
                d={pts.join(" ")}
                data-run-id={run.id}
                fill="none"
                stroke={color}
                stroke-width={hover === run.id ? 3 : 1.8}
                stroke-opacity={dim ? 0.15 : 0.85}
                onMouseEnter={() => setHover(run.id)}
                onMouseLeave={() => setHover(null)}
              >
                <title>{run.name}</title>
              </path>
            );
          })}
        {axes.length >= 2 &&
          axes.map((a, i) => (
            <g key={a.key} class="pc-axis" data-axis={a.key}>
              <line x1={ax(i)} x2={ax(i)} y1={ay(0)} y2={ay(1)} stroke="#9aa1ab" />
              <text x={ax(i)} y={pad.t - 14} text-anchor="middle" class={`axis-title ${i === axes.length - 1 && chosen ? "metric" : ""}`}>
                {a.label.length > 18 ? `…${a.label.slice(-17)}` : a.label}
                {a.log ? " (log)" : ""}
              </text>
              {a.numeric ? (
                <>
                  <text x={ax(i) - 5} y={ay(1) + 4} text-anchor="end" class="axis-text">
                    {formatValue(a.max)}
                  </text>
                  <text x={ax(i) - 5} y={ay(0) + 4} text-anchor="end" class="axis-text">
                    {formatValue(a.min)}
                  </text>
                </>
              ) : (
                a.categories.map((c, j) => (
                  <text
                    key={c}
                    x={ax(i) - 5}
                    y={ay(a.categories.length === 1 ? 0.5 : j / (a.categories.length - 1)) + 4}
                    text-anchor="end"
                    class="axis-text"
                  >
                    {c.length > 10 ? `${c.slice(0, 9)}…` : c}
                  </text>
                ))
              )}
            </g>
          ))}
      </svg>
    </div>
  );
}
