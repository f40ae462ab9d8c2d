// Formatting, sorting and small hooks shared by the pages.
import { useEffect, useRef } from "preact/hooks";

export function relativeTime(t: number | null | undefined, now = Date.now() / 1000): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return "—";
  const d = Math.max(0, now - t);
  if (d < 45) return "just now";
  if (d < 90) return "1 minute ago";
  if (d < 3600) return `${Math.round(d / 60)} minutes ago`;
  if (d < 5400) return "1 hour ago";
  if (d < 86400) return `${Math.round(d / 3600)} hours ago`;
  if (d < 2 * 86400) return "yesterday";
  if (d < 30 * 86400) return `${Math.round(d / 86400)} days ago`;
  return new Date(t * 1000).toLocaleDateString();
}

export function formatDate(t: number | null | undefined): string {
  if (t === null || t === undefined || !Number.isFinite(t)) return "—";
  const d = new Date(t * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
}

export function formatDuration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return "—";
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  if (h > 0) return `${h}h ${m}m ${sec}s`;
  return `${m}m ${sec}s`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A compact display of a scalar: numbers to 4 significant digits, exponent when tiny/huge. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3).replace(/\.?0+e/, "e");
    return String(Number(v.toPrecision(5)));
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** Compare two cell values: numbers numerically, then strings naturally; missing values last. */
export function compareValues(a: unknown, b: unknown, order: "asc" | "desc"): number {
  const missA = a === null || a === undefined || a === "" || (typeof a === "number" && Number.isNaN(a));
  const missB = b === null || b === undefined || b === "" || (typeof b === "number" && Number.isNaN(b));
  if (missA || missB) return missA === missB ? 0 : missA ? 1 : -1;
  const sign = order === "asc" ? 1 : -1;
  const na = typeof a === "number" ? a : typeof a === "boolean" ? Number(a) : null;
  const nb = typeof b === "number" ? b : typeof b === "boolean" ? Number(b) : null;
  if (na !== null && nb !== null) return sign * (na < nb ? -1 : na > nb ? 1 : 0);
  if (na !== null) return -sign; // numbers before strings
  if (nb !== null) return sign;
  return sign * collator.compare(String(a), String(b));
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** Flatten nested objects with "." (the API's flat keys). */
export function flatten(obj: unknown, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  if (obj && typeof obj === "object" && !Array.isArray(obj)) {
    const entries = Object.entries(obj as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = {};
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = obj;
  }
  return out;
}

/** Exponential moving average with TensorBoard's debiasing; nulls are carried through. */
export function ema(y: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return y.slice();
  const out: (number | null)[] = new Array(y.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

export const PALETTE = [
  "#2f7ed8",
  "#e8590c",
  "#2b8a3e",
  "#c2255c",
  "#7048e8",
  "#0c8599",
  "#e67700",
  "#5c940d",
  "#a61e4d",
  "#364fc7",
  "#d9480f",
  "#087f5b",
];

export function colorFor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** Call `fn` every `ms` while `active`; the latest `fn` is used without restarting the timer. */
export function useInterval(fn: () => void, ms: number, active: boolean): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    if (!active) return;
    const id = window.setInterval(() => ref.current(), ms);
    return () => window.clearInterval(id);
  }, [ms, active]);
}

export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · runlab` : "runlab";
  }, [title]);
}

/** Whether the run's process is alive: running, or stalled (it missed a progress promise). */
export function isRunning(status: string | null | undefined): boolean {
  return status === "running" || status === "stalled";
}
