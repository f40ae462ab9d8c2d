// Logs: output.log read by offset cursor, followed while the run is running, with search.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { JSX } from "preact";
import { api } from "../../api";
import { formatBytes, useInterval } from "../../util";

const MAX_INITIAL = 8 * 1024 * 1024; // show at most the last 8 MB; the download has everything
const MAX_MARKS = 5000;

export function LogsTab({ runId, live }: { runId: string; live: boolean }) {
  const [text, setText] = useState("");
  const [size, setSize] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [truncated, setTruncated] = useState(false);
  const [search, setSearch] = useState("");
  const [follow, setFollow] = useState(true);
  const cursor = useRef(0);
  const busy = useRef(false);
  const view = useRef<HTMLPreElement>(null);

  /** Read from the cursor until the end of what exists now. */
  const pull = async (quiet: boolean) => {
    if (busy.current) return;
    busy.current = true;
    try {
      let chunk = "";
      for (let i = 0; i < 64; i++) {
        const r = await api.logs(runId, cursor.current, { quiet });
        if (cursor.current === 0 && i === 0 && r.size > MAX_INITIAL && r.offset < r.size - MAX_INITIAL) {
          cursor.current = r.size - MAX_INITIAL;
          setTruncated(true);
          continue;
        }
        chunk += r.text;
        const advanced = r.offset !== cursor.current;
        cursor.current = r.offset;
        setSize(r.size);
        if (!advanced || r.offset >= r.size || r.text.length === 0) break;
      }
      if (chunk) setText((t) => t + chunk);
    } catch {
      /* shown as a toast by the client */
    } finally {
      busy.current = false;
      setLoaded(true);
    }
  };

  useEffect(() => {
    cursor.current = 0;
    setText("");
    void pull(false);
  }, [runId]);
  useInterval(() => void pull(true), 2000, live);
  const wasLive = useRef(live);
  useEffect(() => {
    if (wasLive.current && !live) window.setTimeout(() => void pull(true), 300);
    wasLive.current = live;
  }, [live]);

  useLayoutEffect(() => {
    const el = view.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [text, follow]);

  const onScroll = () => {
    const el = view.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom !== follow) setFollow(atBottom);
  };

  const [content, matches] = useMemo(() => {
    const s = search.trim();
    if (!s) return [text, 0];
    const lower = text.toLowerCase();
    const needle = s.toLowerCase();
    const parts: (string | JSX.Element)[] = [];
    let at = 0;
    let n = 0;
    for (;;) {
      const i = lower.indexOf(needle, at);
      if (i < 0 || n >= MAX_MARKS) break;
      if (i > at) parts.push(text.slice(at, i));
      parts.push(
        <mark key={n} class={n === 0 ? "first-match" : undefined}>
          {text.slice(i, i + needle.length)}
        </mark>,
      );
      at = i + needle.length;
      n++;
    }
    parts.push(text.slice(at));
    return [parts, n];
  }, [text, search]);

  // Jump to the first match when the search changes.
  useEffect(() => {
    if (!search.trim()) return;
    const m = view.current?.querySelector("mark");
    if (m) {
      setFollow(false);
      m.scrollIntoView({ block: "center" });
    }
  }, [search]);

  return (
    <div class="logs">
      <div class="toolbar">
        <label class="sr-only" for="log-search">
          Search the log
        </label>
        <input
          id="log-search"
          class="input search"
          type="search"
          data-testid="log-search"
          placeholder="Search log"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        {search.trim() && (
          <span class="muted small" data-testid="log-match-count">
            {matches}
            {matches >= MAX_MARKS ? "+" : ""} matches
          </span>
        )}
        <label class="inline-label">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} />
          Follow
        </label>
        {live && <span class="live-dot">● live</span>}
        <span class="muted small">{formatBytes(size)}</span>
        <a class="btn" data-testid="log-download" href={api.logsDownloadUrl(runId)} download="output.log">
          Download
        </a>
      </div>
      {truncated && <div class="banner">Showing the last {formatBytes(MAX_INITIAL)}; download for the whole log.</div>}
      <pre class="log-view" data-testid="log-view" ref={view} onScroll={onScroll} tabIndex={0} aria-label="Run output">
        {loaded && text === "" ? <span class="muted">No output captured.</span> : content}
      </pre>
    </div>
  );
}
