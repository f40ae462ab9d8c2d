// The REST client of ui/API.md: typed responses, the bearer token, errors surfaced as toasts.
import { pushToast } from "./toast";

export type Scalar = string | number | boolean | null;
export type Status =
  | "running"
  | "stalled"
  | "finished"
  | "failed"
  | "killed"
  | "canceled"
  | "crashed";

export interface Project {
  name: string;
  run_count: number;
  last_activity: number | null;
}

export interface RunRow {
  id: string;
  name: string;
  project: string;
  status: Status | string;
  tags: string[];
  group: string | null;
  job_type: string | null;
  created_at: number;
  ended_at: number | null;
  heartbeat_at: number | null;
  runtime: number | null;
  notes: string | null;
  config: Record<string, Scalar>;
  summary: Record<string, Scalar>;
}

export interface RunsResponse {
  total: number;
  runs: RunRow[];
  columns: { config: string[]; summary: string[] };
}

export interface GroupStats {
  mean: number | null;
  min: number | null;
  max: number | null;
}

export interface Group {
  value: Scalar;
  count: number;
  run_ids: string[];
  summary: Record<string, GroupStats>;
}

export interface GroupsResponse {
  by: string;
  groups: Group[];
}

/** The run a fork was taken from; project and name are null when the parent is gone. */
export interface ForkParent {
  run: string;
  step: number;
  project: string | null;
  name: string | null;
}

/** A resume (`step`: the first step logged after it) or a rewind (`step`: rewound to). */
export interface LineageEvent {
  at: number | null;
  step: number | null;
}

export interface Lineage {
  fork: ForkParent | null;
  /** Plain resumes, oldest first (rewinds are only in `rewinds`). */
  resumed: LineageEvent[];
  rewinds: LineageEvent[];
}

export type AlertLevel = "INFO" | "WARN" | "ERROR";

export interface RunAlert {
  title: string;
  text: string;
  level: AlertLevel | string;
  kind: string | null;
  time: number | null;
}

/** One process of a multi-process run. */
export interface RankInfo {
  label: string;
  owner: boolean;
  status: Status | string;
  heartbeat_at: number | null;
  pid: number | null;
  host: string | null;
}

export interface RunDetail {
  run: RunRow;
  config: Record<string, unknown>;
  summary: Record<string, unknown>;
  metadata: Record<string, unknown>;
  exit_code: number | null;
  err_msg: string | null;
  seed: number | null;
  description: string | null;
  has_scenario: boolean;
  episode_count: number;
  lineage: Lineage;
  /** Newest first, at most 100. */
  alerts: RunAlert[];
  /** Empty unless the run is a multi-process run. */
  ranks: RankInfo[];
}

export interface MetricInfo {
  key: string;
  count: number;
  first_step: number;
  last_step: number;
  min: number | null;
  max: number | null;
  last: number | null;
}

export type XAxis = "step" | "time" | "relative";

export interface Series {
  key: string;
  x: number[];
  y: (number | null)[];
  steps: number[];
  sampled: boolean;
  total: number;
  last_step: number | null;
}

export interface LogChunk {
  text: string;
  offset: number;
  size: number;
}

export interface FileEntry {
  path: string;
  size: number;
  mtime: number;
  kind: "text" | "image" | "binary";
}

export interface EpisodesResponse {
  total: number;
  columns: string[];
  rows: Record<string, unknown>[];
}

export interface EpisodeStats {
  param: string;
  rows: Record<string, unknown>[];
}

/** A deleted run waiting in the trash; name, project and status are null when unreadable. */
export interface TrashRun {
  id: string;
  deleted_at: number;
  name: string | null;
  project: string | null;
  status: string | null;
}

export interface Info {
  version: string;
  dir: string;
  auth_required: boolean;
}

const TOKEN_KEY = "runlab.token";

/** Move `?token=` from the address bar into sessionStorage (once, at start). */
export function captureToken(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  }
}

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** An error answer of the API: its message, HTTP status, and the filter column when given. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly column: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
  /** Do not show a toast: the caller shows the error itself (e.g. the filter box). */
  quiet?: boolean;
}

function headers(json: boolean): Record<string, string> {
  const h: Record<string, string> = { Accept: "application/json" };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  if (json) h["Content-Type"] = "application/json";
  return h;
}

/** Query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | null | undefined>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") sp.set(k, String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : "";
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const hasBody = opts.body !== undefined;
  let resp: Response;
  try {
    resp = await fetch(path, {
      method: opts.method ?? "GET",
      headers: headers(hasBody),
      body: hasBody ? JSON.stringify(opts.body) : undefined,
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    const err = new ApiError(`Network error: ${(e as Error).message ?? e}`, 0);
    if (!opts.quiet) pushToast(err.message);
    throw err;
  }
  if (!resp.ok) {
    let message = `${resp.status} ${resp.statusText}`;
    let column: number | null = null;
    try {
      const body = (await resp.json()) as { message?: unknown; detail?: unknown; column?: unknown };
      if (typeof body.message === "string") message = body.message;
      else if (typeof body.detail === "string") message = body.detail;
      else if (body.detail !== undefined) message = JSON.stringify(body.detail);
      if (typeof body.column === "number") column = body.column;
    } catch {
      /* not JSON: keep the status line */
    }
    const err = new ApiError(message, resp.status, column);
    if (!opts.quiet) pushToast(message);
    throw err;
  }
  return (await resp.json()) as T;
}

/** Fetch raw text (file previews); errors become toasts like JSON requests. */
export async function requestText(path: string, signal?: AbortSignal): Promise<string> {
  const resp = await fetch(path, { headers: headers(false), signal });
  if (!resp.ok) {
    let message = `${resp.status} ${resp.statusText}`;
    try {
      const body = (await resp.json()) as { message?: string };
      if (body.message) message = body.message;
    } catch {
      /* keep the status line */
    }
    pushToast(message);
    throw new ApiError(message, resp.status);
  }
  return resp.text();
}

const enc = encodeURIComponent;

export const api = {
  info: () => request<Info>("/api/info", { quiet: true }),
  projects: () => request<Project[]>("/api/projects"),
  runs: (
    project: string,
    params: { filter?: string; q?: string; sort?: string; order?: string },
    opts: RequestOptions = {},
  ) => request<RunsResponse>(`/api/projects/${enc(project)}/runs${qs(params)}`, opts),
  groups: (project: string, params: { by: string; filter?: string; q?: string }, opts: RequestOptions = {}) =>
    request<GroupsResponse>(`/api/projects/${enc(project)}/groups${qs(params)}`, opts),
  run: (id: string, opts: RequestOptions = {}) => request<RunDetail>(`/api/runs/${enc(id)}`, opts),
  patchRun: (id: string, body: { tags?: string[]; notes?: string }) =>
    request<RunDetail>(`/api/runs/${enc(id)}`, { method: "PATCH", body }),
  deleteRuns: (ids: string[]) =>
    request<{ deleted: string[] }>("/api/runs/delete", { method: "POST", body: { ids } }),
  stopRun: (id: string) => request<{ stopped: boolean }>(`/api/runs/${enc(id)}/stop`, { method: "POST" }),
  trash: () => request<{ runs: TrashRun[] }>("/api/trash"),
  restoreRuns: (ids: string[]) =>
    request<{ restored: string[] }>("/api/runs/restore", { method: "POST", body: { ids } }),
  purgeRuns: (ids: string[]) =>
    request<{ purged: string[] }>("/api/trash/purge", { method: "POST", body: { ids } }),
  tagRuns: (ids: string[], add: string[], remove: string[]) =>
    request<{ runs: RunRow[] }>("/api/runs/tags", { method: "POST", body: { ids, add, remove } }),
  moveRuns: (ids: string[], project: string) =>
    request<{ runs: RunRow[] }>("/api/runs/move", { method: "POST", body: { ids, project } }),
  metrics: (id: string, opts: RequestOptions = {}) =>
    request<{ metrics: MetricInfo[] }>(`/api/runs/${enc(id)}/metrics`, opts),
  series: (
    id: string,
    params: { key: string; x: XAxis; width?: number; x_min?: number; x_max?: number; after_step?: number },
    opts: RequestOptions = {},
  ) => request<Series>(`/api/runs/${enc(id)}/series${qs(params)}`, opts),
  logs: (id: string, offset: number, opts: RequestOptions = {}) =>
    request<LogChunk>(`/api/runs/${enc(id)}/logs${qs({ offset, limit: 262144 })}`, opts),
  logsDownloadUrl: (id: string) => `/api/runs/${enc(id)}/logs/download`,
  files: (id: string, root: "files" | "artifacts") =>
    request<{ files: FileEntry[] }>(`/api/runs/${enc(id)}/files${qs({ root })}`),
  fileUrl: (id: string, root: string, path: string, download = false) =>
    `/api/runs/${enc(id)}/file${qs({ root, path, download: download ? 1 : null })}`,
  episodes: (id: string, offset: number, limit: number) =>
    request<EpisodesResponse>(`/api/runs/${enc(id)}/episodes${qs({ offset, limit })}`),
  episodeStats: (id: string, param: string, outcome = "status", bins = 10) =>
    request<EpisodeStats>(`/api/runs/${enc(id)}/episodes/stats${qs({ param, outcome, bins })}`),
  scenario: (id: string) => request<{ yaml: string | null }>(`/api/runs/${enc(id)}/scenario`),
};
