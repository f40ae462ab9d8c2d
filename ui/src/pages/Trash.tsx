// Deleted runs: what `POST /api/runs/delete` moved to the trash, to restore or purge for good.
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, type TrashRun } from "../api";
import { ConfirmDialog } from "../components/Confirm";
import { StatusBadge } from "../components/StatusBadge";
import { Link, paths } from "../router";
import { pushToast } from "../toast";
import { formatDate, relativeTime, useDocumentTitle } from "../util";

function label(r: TrashRun): string {
  return r.name ?? r.id;
}

export function TrashPage() {
  const [runs, setRuns] = useState<TrashRun[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [purging, setPurging] = useState<TrashRun | null>(null);
  useDocumentTitle("Deleted runs");

  const load = () =>
    api.trash().then(
      (t) => {
        setRuns(t.runs);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  useEffect(() => {
    void load();
  }, []);

  const act = async (run: TrashRun, fn: () => Promise<unknown>, message: string) => {
    setBusy(run.id);
    try {
      await fn();
      pushToast(message, "info");
      setPurging(null);
      setRuns((rs) => rs && rs.filter((r) => r.id !== run.id));
    } catch {
      /* the API client already showed the error */
    } finally {
      setBusy(null);
      void load();
    }
  };
  const cancelPurge = useCallback(() => setPurging(null), []);

  return (
    <div class="page">
      <div class="page-head">
        <h1 class="page-title">Deleted runs</h1>
        <span class="muted">
          {runs ? `${runs.length} ${runs.length === 1 ? "run" : "runs"} · ` : ""}
          restore brings a run back whole; purge removes it for good
        </span>
      </div>
      {error && <div class="banner banner-error">{error}</div>}
      {runs === null && !error && <div class="muted">Loading…</div>}
      {runs && runs.length === 0 && <div class="empty">No deleted runs.</div>}
      {runs && runs.length > 0 && (
        <table class="table trash-table" data-testid="trash-table">
          <thead>
            <tr>
              <th>Run</th>
              <th>Project</th>
              <th>State</th>
              <th>Deleted</th>
              <th class="actions-col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id} data-testid="trash-row" data-run-id={r.id}>
                <td>
                  <div class="trash-name">{r.name ?? <span class="muted">(unreadable run.json)</span>}</div>
                  <div class="mono muted">{r.id}</div>
                </td>
                <td>{r.project ? <Link href={paths.runs(r.project)}>{r.project}</Link> : <span class="muted">—</span>}</td>
                <td>{r.status ? <StatusBadge status={r.status} /> : <span class="muted">—</span>}</td>
                <td title={formatDate(r.deleted_at)}>{relativeTime(r.deleted_at)}</td>
                <td class="actions-col">
                  <div class="row-gap">
                    <button
                      type="button"
                      class="btn"
                      data-testid="restore-button"
                      disabled={busy !== null}
                      onClick={() =>
                        void act(
                          r,
                          () => api.restoreRuns([r.id]),
                          `Restored ${label(r)}${r.project ? ` to ${r.project}` : ""}`,
                        )
                      }
                    >
                      Restore
                    </button>
                    <button
                      type="button"
                      class="btn btn-danger-outline"
                      data-testid="purge-button"
                      disabled={busy !== null}
                      onClick={() => setPurging(r)}
                    >
                      Purge
                    </button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {purging && (
        <ConfirmDialog
          title={`Purge ${label(purging)}?`}
          confirmLabel="Purge"
          testid="confirm-purge"
          busy={busy !== null}
          onCancel={cancelPurge}
          onConfirm={() => void act(purging, () => api.purgeRuns([purging.id]), `Purged ${label(purging)}`)}
        >
          <p>
            This removes the run's directory and all its data for good. It cannot be undone; its id{" "}
            <code>{purging.id}</code> stays retired.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
