// Bulk actions on the selected runs: compare, tag, move, delete.
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../api";
import { Popover } from "../../components/Popover";
import { pushToast } from "../../toast";

interface Props {
  project: string;
  selected: string[];
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

export function ActionBar({ project, selected, onDone, onCompare, onClear }: Props) {
  const [dialog, setDialog] = useState<"delete" | "tags" | "move" | null>(null);
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

  const run = async (fn: () => Promise<unknown>, message: string) => {
    setBusy(true);
    try {
      await fn();
      pushToast(message, "info");
      setDialog(null);
      onDone();
    } catch {
      /* the API client already showed the error */
    } finally {
      setBusy(false);
    }
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
            <p>This removes the run directories and their data. It cannot be undone.</p>
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
                  void run(async () => {
                    await api.deleteRuns(selected);
                    onClear();
                  }, `Deleted ${n} run${n === 1 ? "" : "s"}`)
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
