// Bulk actions on the selected runs: compare, tag, move, stop, delete.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../api";
import { ConfirmDialog } from "../../components/Confirm";
import { Popover } from "../../components/Popover";
import { Link, paths } from "../../router";
import { pushToast } from "../../toast";

interface Props {
  project: string;
  selected: string[];
  /** The selected runs that are running (what Stop acts on). */
  running: string[];
  onDone: () => void;
  onCompare: () => void;
  onClear: () => void;
}

function parseTags(text: string): { add: string[]; remove: string[] } {
  const add: string[] = [];
  const remove: string[] = [];
  for (const raw of text.split(/[,\s]+/)) {
    const t = raw.trim();
    if (!t) continue;
    if (t.startsWith("-") && t.length > 1) remove.push(t.slice(1));
    else add.push(t.replace(/^\+/, ""));
  }
  return { add, remove };
}

function runs(n: number): string {
  return `${n} run${n === 1 ? "" : "s"}`;
}

export function ActionBar({ project, selected, running, onDone, onCompare, onClear }: Props) {
  const [dialog, setDialog] = useState<"delete" | "stop" | "tags" | "move" | null>(null);
  const [tagText, setTagText] = useState("");
  const [moveTo, setMoveTo] = useState("");
  const [projects, setProjects] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const n = selected.length;
  const none = n === 0;

  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (dialog !== "delete") return;
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setDialog(null);
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [dialog]);

  useEffect(() => {
    if (dialog === "move") api.projects().then((ps) => setProjects(ps.map((p) => p.name)), () => undefined);
  }, [dialog]);

  const run = async (fn: () => Promise<unknown>, message: string | (() => string), closeOnError = false) => {
    setBusy(true);
    try {
      await fn();
      pushToast(typeof message === "string" ? message : message(), "info");
      setDialog(null);
      onDone();
    } catch {
      /* the API client already showed the error (e.g. 409: a run is still running) */
      if (closeOnError) setDialog(null);
    } finally {
      setBusy(false);
    }
  };
  const closeDialog = useCallback(() => setDialog(null), []);

  const doStop = () => {
    const ids = [...running];
    let asked = 0;
    void run(
      async () => {
        const results = await Promise.all(ids.map((id) => api.stopRun(id)));
        asked = results.filter((r) => r.stopped).length;
      },
      () => (asked ? `Asked ${runs(asked)} to stop; they end killed within a heartbeat` : "No selected run is running"),
      true,
    );
  };

  const applyTags = (mode: "parse" | "add" | "remove") => {
    const parsed = parseTags(tagText);
    let { add, remove } = parsed;
    if (mode === "add") {
      add = [...add, ...remove];
      remove = [];
    } else if (mode === "remove") {
      remove = [...remove, ...add];
      add = [];
    }
    if (add.length + remove.length === 0) return;
    void run(async () => {
      await api.tagRuns(selected, add, remove);
      setTagText("");
    }, `Updated tags of ${n} run${n === 1 ? "" : "s"}`);
  };

  const doMove = () => {
    const target = moveTo.trim();
    if (!target) return;
    void run(async () => {
      await api.moveRuns(selected, target);
      setMoveTo("");
      onClear();
    }, `Moved ${n} run${n === 1 ? "" : "s"} to ${target}`);
  };

  return (
    <div class="actionbar" role="toolbar" aria-label="Selected runs">
      <span class="muted">{none ? "Select runs for actions" : `${n} selected`}</span>
      <button type="button" class="btn btn-primary" data-testid="compare-button" disabled={none} onClick={onCompare}>
        Compare
      </button>
      <div class="popover-host">
        <button
          type="button"
          class="btn"
          data-testid="tags-button"
          disabled={none}
          aria-expanded={dialog === "tags"}
          onClick={() => setDialog(dialog === "tags" ? null : "tags")}
        >
          Tags
        </button>
        <Popover open={dialog === "tags"} onClose={() => setDialog(null)} label="Edit tags">
          <label class="field">
            <span>Tags (comma separated; prefix with - to remove)</span>
            <AutoFocusInput
              testid="tags-input"
              value={tagText}
              onInput={setTagText}
              onEnter={() => applyTags("parse")}
              placeholder="baseline, -old"
            />
          </label>
          <div class="row-gap">
            <button type="button" class="btn btn-primary" disabled={busy} onClick={() => applyTags("add")}>
              Add
            </button>
            <button type="button" class="btn" disabled={busy} onClick={() => applyTags("remove")}>
              Remove
            </button>
          </div>
        </Popover>
      </div>
      <div class="popover-host">
        <button
          type="button"
          class="btn"
          data-testid="move-button"
          disabled={none}
          aria-expanded={dialog === "move"}
          onClick={() => setDialog(dialog === "move" ? null : "move")}
        >
          Move
        </button>
        <Popover open={dialog === "move"} onClose={() => setDialog(null)} label="Move runs">
          <label class="field">
            <span>Move to project</span>
            <AutoFocusInput
              testid="move-input"
              value={moveTo}
              onInput={setMoveTo}
              onEnter={doMove}
              placeholder="project name"
              list="move-projects"
            />
            <datalist id="move-projects">
              {projects
                .filter((p) => p !== project)
                .map((p) => (
                  <option key={p} value={p} />
                ))}
            </datalist>
          </label>
          <button type="button" class="btn btn-primary" disabled={busy || !moveTo.trim()} onClick={doMove}>
            Move {n} run{n === 1 ? "" : "s"}
          </button>
        </Popover>
      </div>
      <button
        type="button"
        class="btn btn-danger-outline"
        data-testid="stop-runs-button"
        disabled={running.length === 0}
        title={running.length === 0 ? "Select running runs to stop them" : undefined}
        onClick={() => setDialog("stop")}
      >
        Stop{running.length > 0 ? ` ${running.length}` : ""}
      </button>
      {dialog === "stop" && (
        <ConfirmDialog
          title={`Stop ${runs(running.length)}?`}
          confirmLabel="Stop"
          testid="confirm-stop"
          busy={busy}
          onCancel={closeDialog}
          onConfirm={doStop}
        >
          <p>
            Each run's process is interrupted like Ctrl-C within a heartbeat (or calls its <code>on_stop</code>{" "}
            handler), and the run ends <strong>killed</strong>.
          </p>
        </ConfirmDialog>
      )}
      <button
        type="button"
        class="btn btn-danger-outline"
        data-testid="delete-button"
        disabled={none}
        onClick={() => setDialog("delete")}
      >
        Delete
      </button>
      {dialog === "delete" && (
        <div class="modal-backdrop" onClick={() => setDialog(null)}>
          <div
            class="modal"
            role="alertdialog"
            aria-modal="true"
            aria-labelledby="delete-title"
            onClick={(e) => e.stopPropagation()}
          >
            <h2 id="delete-title">
              Delete {n} run{n === 1 ? "" : "s"}?
            </h2>
            <p>
              The {n === 1 ? "run moves" : "runs move"} to{" "}
              <Link href={paths.trash()}>Deleted runs</Link>, where {n === 1 ? "it" : "they"} can be restored
              until purged.
            </p>
            {running.length > 0 && (
              <p class="modal-warning">
                {running.length === n ? (n === 1 ? "It is" : "They are") : `${running.length} of them are`} still
                running: stop {running.length === 1 ? "it" : "them"} first.
              </p>
            )}
            <div class="row-gap end">
              <button type="button" class="btn" ref={cancelRef} onClick={() => setDialog(null)}>
                Cancel
              </button>
              <button
                type="button"
                class="btn btn-danger"
                data-testid="confirm-delete"
                disabled={busy}
                onClick={() =>
                  void run(
                    async () => {
                      await api.deleteRuns(selected);
                      onClear();
                    },
                    `Deleted ${runs(n)}; restore from Deleted runs`,
                    true,
                  )
                }
              >
                Delete
              </button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}

function AutoFocusInput(props: {
  testid: string;
  value: string;
  onInput: (v: string) => void;
  onEnter: () => void;
  placeholder?: string;
  list?: string;
}) {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <input
      ref={ref}
      class="input"
      data-testid={props.testid}
      value={props.value}
      placeholder={props.placeholder}
      list={props.list}
      onInput={(e) => props.onInput(e.currentTarget.value)}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          props.onEnter();
        }
      }}
    />
  );
}
