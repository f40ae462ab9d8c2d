// A run's page: header with state, and keyboard-navigable tabs kept in `?tab=`.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, type RunDetail } from "../api";
import { ConfirmDialog } from "../components/Confirm";
import { StatusBadge } from "../components/StatusBadge";
import { pushToast } from "../toast";
import { setQueryParam } from "../router";
import { formatDate, formatDuration, isRunning, useDocumentTitle, useInterval } from "../util";
import { OverviewTab } from "./run/Overview";
import { ChartsTab } from "./run/Charts";
import { LogsTab } from "./run/Logs";
import { FilesTab } from "./run/Files";
import { EpisodesTab } from "./run/Episodes";
import { ScenarioTab } from "./run/Scenario";

const ALL_TABS = ["overview", "charts", "system", "logs", "files", "artifacts", "episodes", "scenario"] as const;
type Tab = (typeof ALL_TABS)[number];

const LABELS: Record<Tab, string> = {
  overview: "Overview",
  charts: "Charts",
  system: "System",
  logs: "Logs",
  files: "Files",
  artifacts: "Artifacts",
  episodes: "Episodes",
  scenario: "Scenario",
};

export function RunPage({ id, tab }: { project: string; id: string; tab: string | null }) {
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  useDocumentTitle(detail?.run.name ?? id);

  const load = (quiet: boolean) =>
    api.run(id, { quiet }).then(
      (d) => {
        setDetail(d);
        setError(null);
      },
      (e: Error) => !quiet && setError(e.message),
    );
  useEffect(() => {
    void load(false);
  }, [id]);
  const live = isRunning(detail?.run.status);
  useInterval(() => void load(true), 2000, live);

  // Stop: a request the run's process picks up within a heartbeat; the page keeps polling
  // until the state leaves `running`.
  const [confirmStop, setConfirmStop] = useState(false);
  const [stopping, setStopping] = useState(false);
  useEffect(() => {
    if (!live) setStopping(false);
  }, [live]);
  const cancelStop = useCallback(() => setConfirmStop(false), []);
  const stop = async () => {
    setStopping(true);
    try {
      const { stopped } = await api.stopRun(id);
      pushToast(stopped ? "Asked the run to stop; it ends killed within a heartbeat" : "The run is not running", "info");
      if (!stopped) setStopping(false);
    } catch {
      setStopping(false); /* the API client already showed the error */
    } finally {
      setConfirmStop(false);
      void load(true);
    }
  };

  const tabs = ALL_TABS.filter(
    (t) =>
      (t !== "episodes" || (detail?.episode_count ?? 0) > 0 || tab === "episodes") &&
      (t !== "scenario" || detail?.has_scenario || tab === "scenario"),
  );
  const current: Tab = (ALL_TABS as readonly string[]).includes(tab ?? "") ? (tab as Tab) : "overview";
  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});

  const select = (t: Tab, focus = false) => {
    setQueryParam("tab", t);
    if (focus) tabRefs.current[t]?.focus();
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const i = tabs.indexOf(current);
    let next: number | null = null;
    if (e.key === "ArrowRight") next = (i + 1) % tabs.length;
    else if (e.key === "ArrowLeft") next = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = tabs.length - 1;
    if (next !== null) {
      e.preventDefault();
      select(tabs[next], true);
    }
  };

  if (error) return <div class="page"><div class="banner banner-error" role="alert">{error}</div></div>;
  if (!detail) return <div class="page muted">Loading run…</div>;
  const r = detail.run;

  return (
    <div class="page run-page">
      <div class="run-head">
        <div>
          <div class="run-title-row">
            <h1 class="page-title" data-testid="run-title">
              {r.name}
            </h1>
            <StatusBadge status={r.status} testid="run-state" />
          </div>
          <div class="run-sub muted">
            <span class="mono">{r.id}</span> · created {formatDate(r.created_at)} · runtime {formatDuration(r.runtime)}
            {r.group ? ` · group ${r.group}` : ""}
          </div>
        </div>
        {live && (
          <div class="run-head-actions">
            <button
              type="button"
              class="btn btn-danger-outline"
              data-testid="stop-button"
              disabled={stopping}
              onClick={() => setConfirmStop(true)}
            >
              {stopping ? "Stopping…" : "Stop"}
            </button>
          </div>
        )}
      </div>
      {confirmStop && (
        <ConfirmDialog
          title={`Stop ${r.name}?`}
          confirmLabel="Stop run"
          testid="confirm-stop"
          busy={stopping}
          onCancel={cancelStop}
          onConfirm={() => void stop()}
        >
          <p>
            The run's process is interrupted like Ctrl-C within a heartbeat (or calls its <code>on_stop</code>{" "}
            handler), and the run ends <strong>killed</strong>. What it logged so far is kept.
          </p>
        </ConfirmDialog>
      )}
      <div class="tabs" role="tablist" aria-label="Run sections" onKeyDown={onKeyDown}>
        {tabs.map((t) => (
          <button
            key={t}
            ref={(el) => {
              tabRefs.current[t] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t}`}
            class="tab"
            data-testid={`tab-${t}`}
            aria-selected={t === current}
            aria-controls={`panel-${t}`}
            tabIndex={t === current ? 0 : -1}
            onClick={() => select(t)}
          >
            {LABELS[t]}
            {t === "episodes" && detail.episode_count > 0 && <span class="tab-count">{detail.episode_count}</span>}
          </button>
        ))}
      </div>
      <div class="tab-panel" role="tabpanel" id={`panel-${current}`} aria-labelledby={`tab-${current}`}>
        {current === "overview" && <OverviewTab detail={detail} onChange={setDetail} />}
        {current === "charts" && <ChartsTab key="charts" runId={id} live={live} system={false} />}
        {current === "system" && <ChartsTab key="system" runId={id} live={live} system={true} />}
        {current === "logs" && <LogsTab runId={id} live={live} />}
        {current === "files" && <FilesTab key="files" runId={id} root="files" />}
        {current === "artifacts" && <FilesTab key="artifacts" runId={id} root="artifacts" />}
        {current === "episodes" && <EpisodesTab runId={id} live={live} />}
        {current === "scenario" && <ScenarioTab runId={id} />}
      </div>
    </div>
  );
}
