// Files and Artifacts: a list with sizes and downloads, previews of text and images beside it.
import { useEffect, useState } from "preact/hooks";
import { api, requestText, type FileEntry } from "../../api";
import { formatBytes, formatDate } from "../../util";

const PREVIEW_LIMIT = 1024 * 1024;

export function FilesTab({ runId, root }: { runId: string; root: "files" | "artifacts" }) {
  const [files, setFiles] = useState<FileEntry[] | null>(null);
  const [current, setCurrent] = useState<FileEntry | null>(null);
  const [text, setText] = useState<string | null>(null);

  useEffect(() => {
    api.files(runId, root).then(
      (r) => setFiles([...r.files].sort((a, b) => a.path.localeCompare(b.path))),
      () => setFiles([]),
    );
  }, [runId, root]);

  useEffect(() => {
    setText(null);
    if (!current || current.kind !== "text") return;
    if (current.size > PREVIEW_LIMIT) {
      setText(null);
      return;
    }
    const ctl = new AbortController();
    requestText(api.fileUrl(runId, root, current.path), ctl.signal).then(setText, () => undefined);
    return () => ctl.abort();
  }, [current]);

  if (files === null) return <div class="muted pad">Loading…</div>;
  if (files.length === 0) return <div class="empty">No {root} in this run.</div>;
  return (
    <div class="files">
      <div class="files-list">
        <table class="table">
          <thead>
            <tr>
              <th>Path</th>
              <th class="num">Size</th>
              <th>Modified</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {files.map((f) => (
              <tr
                key={f.path}
                data-testid="file-row"
                data-path={f.path}
                class={`clickable ${current?.path === f.path ? "selected" : ""}`}
                onClick={() => setCurrent(f)}
              >
                <td>
                  <button type="button" class="link-btn file-name">
                    <span class={`file-kind kind-${f.kind}`} aria-hidden="true" />
                    {f.path}
                  </button>
                </td>
                <td class="num">{formatBytes(f.size)}</td>
                <td class="muted small">{formatDate(f.mtime)}</td>
                <td>
                  <a href={api.fileUrl(runId, root, f.path, true)} download={f.path.split("/").pop()} onClick={(e) => e.stopPropagation()} aria-label={`Download ${f.path}`}>
                    download
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="file-preview" data-testid="file-preview" aria-live="polite">
        {!current && <div class="muted pad">Select a file to preview it.</div>}
        {current && (
          <>
            <div class="preview-head">
              <span class="mono">{current.path}</span>
              <span class="muted small">{formatBytes(current.size)}</span>
            </div>
            {current.kind === "image" && (
              <img class="preview-img" src={api.fileUrl(runId, root, current.path)} alt={current.path} />
            )}
            {current.kind === "text" && current.size > PREVIEW_LIMIT && (
              <div class="muted pad">Too large to preview; download it instead.</div>
            )}
            {current.kind === "text" && current.size <= PREVIEW_LIMIT && (
              <pre class="preview-text">{text === null ? "Loading…" : text}</pre>
            )}
            {current.kind === "binary" && <div class="muted pad">Binary file: no preview.</div>}
          </>
        )}
      </div>
    </div>
  );
}
