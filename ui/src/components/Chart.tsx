// uPlot line chart: raw series faded under an EMA-smoothed line, log scale, drag-to-zoom
// (reported to the owner so it can fetch raw points for the range), double-click to reset.
import { useEffect, useLayoutEffect, useMemo, useRef } from "preact/hooks";
import uPlot from "uplot";
import { ema, formatValue } from "../util";
import type { XAxis } from "../api";

export interface Line {
  label: string;
  color: string;
  x: number[];
  y: (number | null)[];
}

interface Props {
  lines: Line[];
  xAxis: XAxis;
  smoothing: number;
  logScale: boolean;
  height?: number;
  /** When given, drag-selection calls it instead of zooming locally. */
  onZoom?: (min: number, max: number) => void;
  onReset?: () => void;
}

/** Align several (x, y) series on the union of their x values (uPlot wants one x array). */
function align(lines: Line[]): [number[], (number | null)[][]] {
  if (lines.length === 1) return [lines[0].x, [lines[0].y]];
  const xs = new Set<number>();
  for (const l of lines) for (const x of l.x) xs.add(x);
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const ys = lines.map((l) => {
    const y: (number | null)[] = new Array(x.length).fill(null);
    for (let i = 0; i < l.x.length; i++) y[index.get(l.x[i])!] = l.y[i];
    return y;
  });
  return [x, ys];
}

function fade(color: string): string {
  return `${color}40`; // #rrggbb + alpha
}

function tooltipPlugin(xAxis: XAxis, labels: string[], colors: string[]): uPlot.Plugin {
  let tip: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement("div");
        tip.className = "chart-tip";
        tip.style.display = "none";
        u.over.appendChild(tip);
        u.over.addEventListener("mouseleave", () => (tip.style.display = "none"));
      },
      setCursor: (u) => {
        const idx = u.cursor.idx;
        if (idx === null || idx === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
          tip.style.display = "none";
          return;
        }
        const xv = u.data[0][idx];
        const xs =
          xAxis === "time" ? new Date(xv * 1000).toLocaleTimeString() : xAxis === "relative" ? `${formatValue(xv)} s` : `step ${xv}`;
        const rows: string[] = [];
        for (let i = 1; i < u.series.length; i++) {
          const s = u.series[i];
          if (!s.show || (s as { _raw?: boolean })._raw) continue;
          const v = u.data[i][idx];
          if (v === null || v === undefined) continue;
          rows.push(
            `<div><span class="tip-swatch" style="background:${colors[i] ?? ""}"></span>${escapeHtml(
              labels[i] ?? "",
            )} <b>${formatValue(v)}</b></div>`,
          );
        }
        if (rows.length === 0) {
          tip.style.display = "none";
          return;
        }
        tip.innerHTML = `<div class="tip-x">${xs}</div>${rows.join("")}`;
        tip.style.display = "block";
        const left = u.cursor.left;
        const w = u.over.clientWidth;
        tip.style.left = left > w / 2 ? "" : `${left + 12}px`;
        tip.style.right = left > w / 2 ? `${w - left + 12}px` : "";
        tip.style.top = "4px";
      },
    },
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

export function Chart({ lines, xAxis, smoothing, logScale, height = 200, onZoom, onReset }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoomRef = useRef(onZoom);
  const resetRef = useRef(onReset);
  zoomRef.current = onZoom;
  resetRef.current = onReset;

  // Series data (raw, and smoothed over it) and the plot's shape are computed apart, so a live
  // append only calls setData on the existing plot instead of building a new one.
  const built = useMemo(() => {
    const [x, ys] = align(lines);
    const series: uPlot.Series[] = [{}];
    const data: (number | null)[][] = [x];
    const labels: string[] = [""];
    const colors: string[] = [""];
    const clean = (y: (number | null)[]) => (logScale ? y.map((v) => (v !== null && v > 0 ? v : null)) : y);
    lines.forEach((l, i) => {
      const y = clean(ys[i]);
      if (smoothing > 0) {
        const raw: uPlot.Series & { _raw?: boolean } = {
          label: `${l.label} (raw)`,
          stroke: fade(l.color),
          width: 1,
          spanGaps: true,
          points: { show: false },
        };
        raw._raw = true;
        series.push(raw);
        data.push(y);
        labels.push(`${l.label} (raw)`);
        colors.push(l.color);
        series.push({ label: l.label, stroke: l.color, width: 1.5, spanGaps: true, points: { show: false } });
        data.push(ema(y, smoothing));
        labels.push(l.label);
        colors.push(l.color);
      } else {
        series.push({
          label: l.label,
          stroke: l.color,
          width: 1.25,
          spanGaps: true,
          points: { show: x.length < 60, size: 4 },
        });
        data.push(y);
        labels.push(l.label);
        colors.push(l.color);
      }
    });
    const shape = `${smoothing > 0}|${x.length < 60}|${labels.join("\u0000")}|${lines.map((l) => l.color).join(",")}`;
    return { series, data, labels, colors, shape };
  }, [lines, smoothing, logScale]);
  const builtRef = useRef(built);
  builtRef.current = built;
  const shown = useRef<unknown>(null);

  useLayoutEffect(() => {
    const el = host.current;
    if (!el) return;
    const { series, data, labels, colors } = builtRef.current;
    const grid = getComputedStyle(document.documentElement).getPropertyValue("--grid").trim() || "#eef0f3";
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: false },
      cursor: {
        drag: { x: true, y: false, setScale: !zoomRef.current },
        points: { size: 6 },
      },
      scales: {
        x: { time: xAxis === "time" },
        y: logScale ? { distr: 3 } : {},
      },
      axes: [
        {
          stroke: "#6b7280",
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          font: "11px system-ui, sans-serif",
          size: 36,
        },
        {
          stroke: "#6b7280",
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          font: "11px system-ui, sans-serif",
          size: 56,
          values: (_u, splits) => splits.map((v) => formatValue(v)),
        },
      ],
      series,
      plugins: [tooltipPlugin(xAxis, labels, colors)],
      hooks: {
        setSelect: [
          (u) => {
            if (!zoomRef.current) return;
            const { left, width } = u.select;
            if (width > 3) {
              const a = u.posToVal(left, "x");
              const b = u.posToVal(left + width, "x");
              zoomRef.current(Math.min(a, b), Math.max(a, b));
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
      },
    };
    const p = new uPlot(opts, data as uPlot.AlignedData, el);
    plot.current = p;
    shown.current = data;
    const onDbl = () => resetRef.current?.();
    p.over.addEventListener("dblclick", onDbl);
    return () => {
      p.over.removeEventListener("dblclick", onDbl);
      p.destroy();
      if (plot.current === p) plot.current = null;
    };
  }, [built.shape, xAxis, logScale, height]);

  useLayoutEffect(() => {
    const p = plot.current;
    if (p && shown.current !== built.data) {
      p.setData(built.data as uPlot.AlignedData);
      shown.current = built.data;
    }
  }, [built]);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      const p = plot.current;
      if (p && el.clientWidth > 0 && Math.abs(p.width - el.clientWidth) > 1) p.setSize({ width: el.clientWidth, height });
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [height]);

  return <div class="chart-host" ref={host} />;
}
