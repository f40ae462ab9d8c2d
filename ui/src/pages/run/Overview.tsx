// Overview: every captured metadata field, config and summary tables, editable tags and notes,
// and the run's history facts: lineage (fork, resumes, rewinds), alerts, processes.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, type LineageEvent, type RankInfo, type RunAlert, type RunDetail } from "../../api";
import { StatusBadge } from "../../components/StatusBadge";
import { Link, paths } from "../../router";
import { pushToast } from "../../toast";
import { flatten, formatBytes, formatDate, formatDuration, formatValue, relativeTime } from "../../util";

type Row = [string, ComponentChildren];

function str(v: unknown): string {
  return v === null || v === undefined ? "" : typeof v === "string" ? v : formatValue(v);
}

function metadataRows(d: RunDetail): Row[] {
  const m = d.metadata ?? {};
  const get = (path: string): unknown =>
    path.split(".").reduce<unknown>((o, k) => (o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined), m);
  const used = new Set<string>(["packages"]);
  const rows: Row[] = [];
  const add = (label: string, value: ComponentChildren, ...keys: string[]) => {
    keys.forEach((k) => used.add(k));
    if (value !== null && value !== undefined && value !== "") rows.push([label, value]);
  };
  const r = d.run;
  add("State", <StatusBadge status={r.status} />);
  add("Command", get("command") ? <code class="wrap">{str(get("command"))}</code> : null, "command", "argv");
  const git = get("git") as Record<string, unknown> | null | undefined;
  used.add("git");
  if (git && typeof git === "object") {
    add("Git commit", git.commit ? <code>{str(git.commit)}</code> : "(none)");
    add("Git branch", str(git.branch) || "(detached)");
    add("Git remote", str(git.remote) || "(none)");
    add("Git dirty", git.dirty === null || git.dirty === undefined ? "" : git.dirty ? "yes (uncommitted changes)" : "no");
    add("Git root", str(git.root));
    if (git.error) add("Git error", str(git.error));
    for (const [k, v] of Object.entries(git))
      if (!["commit", "branch", "remote", "dirty", "root", "error"].includes(k) && v !== null && typeof v !== "object")
        add(`Git ${k}`, str(v));
  } else {
    add("Git", "not a git repository");
  }
  add("Host", [get("host"), get("user") ? `(user ${str(get("user"))})` : ""].map(str).join(" ").trim(), "host", "user");
  add("OS", str(get("os")), "os", "os_name", "os_release");
  const py = get("python") as Record<string, unknown> | undefined;
  add(
    "Python",
    py ? `${str(py.implementation)} ${str(py.version)}${py.executable ? ` · ${str(py.executable)}` : ""}` : str(get("python")),
    "python",
  );
  const cpu = get("cpu") as Record<string, unknown> | undefined;
  add(
    "CPU",
    cpu
      ? `${str(cpu.model) || "unknown model"} · ${str(cpu.count_logical)} logical / ${str(cpu.count_physical)} physical cores`
      : "",
    "cpu",
  );
  const gpus = get("gpus");
  used.add("gpus");
  if (Array.isArray(gpus) && gpus.length > 0)
    add(
      "GPUs",
      <ul class="plain-list">
        {gpus.map((g: Record<string, unknown>, i) => (
          <li key={i}>
            {str(g.index ?? i)}: {str(g.name)}
            {typeof g.memory_total === "number" ? ` · ${formatBytes(g.memory_total)}` : ""}
            {g.driver ? ` · driver ${str(g.driver)}` : ""}
          </li>
        ))}
      </ul>,
    );
  else add("GPUs", get("gpu_error") ? `none (${str(get("gpu_error"))})` : "none", "gpu_error");
  add("Memory", typeof get("memory_total") === "number" ? formatBytes(get("memory_total") as number) : "", "memory_total");
  add("Started", formatDate((get("started_at") as number) ?? r.created_at), "started_at");
  add("Ended", r.ended_at ? formatDate(r.ended_at) : "");
  add("Runtime", formatDuration(r.runtime));
  add("Last heartbeat", r.heartbeat_at ? formatDate(r.heartbeat_at) : "");
  add("Group", r.group ?? "");
  add("Job type", r.job_type ?? "");
  add("Tags", r.tags.join(", "));
  add("Seed", d.seed === null || d.seed === undefined ? "" : String(d.seed));
  add("Exit code", d.exit_code === null || d.exit_code === undefined ? "" : String(d.exit_code));
  add("Error", d.err_msg ? <pre class="err-msg">{d.err_msg}</pre> : "");
  add("Description", d.description ?? "");
  add("Episodes", d.episode_count ? String(d.episode_count) : "");
  // Everything else that was captured, flattened.
  const flat = flatten(m);
  for (const [k, v] of Object.entries(flat)) {
    const top = k.split(".")[0];
    if (used.has(top) || used.has(k) || v === null || v === "") continue;
    add(k, <span class="mono">{str(v)}</span>);
  }
  return rows;
}

function KeyValueTable({ data, testid, empty }: { data: Record<string, unknown>; testid: string; empty: string }) {
  const [q, setQ] = useState("");
  const rows = Object.entries(flatten(data)).filter(([k]) => k.toLowerCase().includes(q.toLowerCase()));
  const total = Object.keys(flatten(data)).length;
  return (
    <div>
      {total > 8 && (
        <input
          class="input small-input"
          type="search"
          aria-label={`Search ${testid}`}
          placeholder="Search keys"
          value={q}
          onInput={(e) => setQ(e.currentTarget.value)}
        />
      )}
      <table class="table kv" data-testid={testid}>
        <tbody>
          {total === 0 && (
            <tr>
              <td class="muted">{empty}</td>
            </tr>
          )}
          {rows.map(([k, v]) => (
            <tr key={k} data-key={k}>
              <th scope="row" class="mono">
                {k}
              </th>
              <td class="mono">{str(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function times(n: number): string {
  return n === 1 ? "once" : n === 2 ? "twice" : `${n} times`;
}

function stepText(e: LineageEvent | undefined): string {
  return e && e.step !== null ? String(e.step) : "?";
}

function when(t: number | null): ComponentChildren {
  return t === null ? null : (
    <span class="muted small" title={formatDate(t)}>
      {" "}
      · {relativeTime(t)}
    </span>
  );
}

/** Fork parent, resumes and rewinds; nothing when the run has none of them. */
function LineageCard({ detail }: { detail: RunDetail }) {
  const { fork, resumed, rewinds } = detail.lineage;
  if (!fork && resumed.length === 0 && rewinds.length === 0) return null;
  const lastResume = resumed[resumed.length - 1];
  const lastRewind = rewinds[rewinds.length - 1];
  return (
    <section class="card" data-testid="lineage">
      <h2 class="card-title">Lineage</h2>
      <ul class="lineage-list">
        {fork && (
          <li data-testid="lineage-fork">
            Forked from{" "}
            <Link
              href={paths.run(fork.project ?? detail.run.project, fork.run)}
              data-testid="lineage-parent"
              data-run-id={fork.run}
            >
              {fork.name ?? fork.run}
            </Link>{" "}
            at step <span class="mono">{fork.step}</span>
            {fork.project === null && <span class="muted small"> (no longer in the store)</span>}
            {fork.name !== null && <div class="muted small mono">{fork.run}</div>}
          </li>
        )}
        {resumed.length > 0 && (
          <li data-testid="lineage-resumed">
            Resumed {times(resumed.length)} (last at step <span class="mono">{stepText(lastResume)}</span>)
            {when(lastResume.at)}
          </li>
        )}
        {rewinds.length > 0 && (
          <li data-testid="lineage-rewound">
            Rewound to step <span class="mono">{stepText(lastRewind)}</span>
            {rewinds.length > 1 && (
              <span>
                {" "}
                ({times(rewinds.length)}: {rewinds.map((r) => stepText(r)).join(", ")})
              </span>
            )}
            {when(lastRewind.at)}
          </li>
        )}
      </ul>
    </section>
  );
}

function levelClass(level: string): string {
  const l = level.toUpperCase();
  return l === "ERROR" ? "level-error" : l === "WARN" ? "level-warn" : "level-info";
}

/** The run's alerts, newest first (the server sends at most 100). */
function AlertsCard({ alerts }: { alerts: RunAlert[] }) {
  if (alerts.length === 0) return null;
  return (
    <section class="card card-wide" data-testid="alerts">
      <h2 class="card-title">
        Alerts <span class="tab-count">{alerts.length}</span>
      </h2>
      <div class="alerts-scroll">
        <table class="table alerts-table">
          <tbody>
            {alerts.map((a, i) => (
              <tr key={i} data-testid="alert-row" data-level={a.level}>
                <td class="alert-level">
                  <span class={`badge ${levelClass(a.level)}`}>{a.level.toLowerCase()}</span>
                </td>
                <td>
                  <div class="alert-title">{a.title}</div>
                  {a.text && <div class="alert-text">{a.text}</div>}
                </td>
                <td class="alert-time muted small" title={a.time === null ? "" : formatDate(a.time)}>
                  {a.time === null ? "" : formatDate(a.time)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** The processes of a multi-process run: owner first. */
function RanksCard({ ranks }: { ranks: RankInfo[] }) {
  if (ranks.length === 0) return null;
  return (
    <section class="card card-wide" data-testid="ranks">
      <h2 class="card-title">
        Processes <span class="tab-count">{ranks.length}</span>
      </h2>
      <table class="table ranks-table">
        <thead>
          <tr>
            <th>Label</th>
            <th>State</th>
            <th>Host / pid</th>
            <th>Last heartbeat</th>
          </tr>
        </thead>
        <tbody>
          {ranks.map((r) => (
            <tr key={r.label} data-testid="rank-row" data-label={r.label}>
              <td class="mono">
                {r.label}
                {r.owner && r.label !== "owner" && <span class="muted small"> (owner)</span>}
              </td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td class="mono">
                {r.host ?? "?"}
                {r.pid !== null ? ` / ${r.pid}` : ""}
              </td>
              <td title={r.heartbeat_at === null ? "" : formatDate(r.heartbeat_at)}>
                {r.heartbeat_at === null ? "—" : relativeTime(r.heartbeat_at)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function OverviewTab({ detail, onChange }: { detail: RunDetail; onChange: (d: RunDetail) => void }) {
  const r = detail.run;
  const [tagText, setTagText] = useState("");
  const [notes, setNotes] = useState(r.notes ?? "");
  const [savedNotes, setSavedNotes] = useState(r.notes ?? "");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    // Follow server-side changes unless the user is editing.
    if (notes === savedNotes) {
      setNotes(r.notes ?? "");
      setSavedNotes(r.notes ?? "");
    }
  }, [r.notes]);

  const patch = async (body: { tags?: string[]; notes?: string }, ok: string) => {
    setBusy(true);
    try {
      const d = await api.patchRun(r.id, body);
      onChange(d);
      pushToast(ok, "info");
      return true;
    } catch {
      return false;
    } finally {
      setBusy(false);
    }
  };

  const addTag = async () => {
    const t = tagText.trim();
    if (!t) return;
    if (r.tags.includes(t)) {
      setTagText("");
      return;
    }
    if (await patch({ tags: [...r.tags, t] }, `Added tag ${t}`)) setTagText("");
  };

  return (
    <div class="overview">
      <div class="overview-main">
        <section class="card">
          <h2 class="card-title">Run</h2>
          <table class="table kv" data-testid="metadata-table">
            <tbody>
              {metadataRows(detail).map(([k, v]) => (
                <tr key={k}>
                  <th scope="row">{k}</th>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {detail.metadata && typeof detail.metadata.packages === "object" && detail.metadata.packages !== null && (
            <details class="packages">
              <summary>Packages ({Object.keys(detail.metadata.packages).length})</summary>
              <table class="table kv">
                <tbody>
                  {Object.entries(detail.metadata.packages as Record<string, unknown>).map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row" class="mono">
                        {k}
                      </th>
                      <td class="mono">{str(v)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          )}
        </section>
        <RanksCard ranks={detail.ranks} />
        <AlertsCard alerts={detail.alerts} />
        <section class="card">
          <h2 class="card-title">Config</h2>
          <KeyValueTable data={detail.config ?? {}} testid="config-table" empty="No config" />
        </section>
        <section class="card">
          <h2 class="card-title">Summary</h2>
          <KeyValueTable data={detail.summary ?? {}} testid="summary-table" empty="No summary" />
        </section>
      </div>
      <aside class="overview-side">
        <LineageCard detail={detail} />
        <section class="card">
          <h2 class="card-title">Tags</h2>
          <div class="chips tag-editor">
            {r.tags.length === 0 && <span class="muted small">No tags</span>}
            {r.tags.map((t) => (
              <span key={t} class="chip chip-edit" data-testid="tag-chip" data-tag={t}>
                {t}
                <button
                  type="button"
                  class="chip-x"
                  data-testid="tag-remove"
                  aria-label={`Remove tag ${t}`}
                  disabled={busy}
                  onClick={() => void patch({ tags: r.tags.filter((x) => x !== t) }, `Removed tag ${t}`)}
                >
                  ×
                </button>
              </span>
            ))}
          </div>
          <label class="sr-only" for="tag-input">
            Add a tag
          </label>
          <input
            id="tag-input"
            class="input"
            data-testid="tag-input"
            placeholder="Add a tag and press Enter"
            value={tagText}
            onInput={(e) => setTagText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                void addTag();
              }
            }}
          />
        </section>
        <section class="card">
          <h2 class="card-title">
            <label for="notes-input">Notes</label>
          </h2>
          <textarea
            id="notes-input"
            class="input notes"
            data-testid="notes-input"
            rows={6}
            placeholder="What was this run about?"
            value={notes}
            onInput={(e) => setNotes(e.currentTarget.value)}
          />
          <div class="row-gap end">
            {notes !== savedNotes && <span class="muted small">unsaved</span>}
            <button
              type="button"
              class="btn btn-primary"
              data-testid="notes-save"
              disabled={busy}
              onClick={async () => {
                if (await patch({ notes }, "Notes saved")) setSavedNotes(notes);
              }}
            >
              Save notes
            </button>
          </div>
        </section>
      </aside>
    </div>
  );
}
