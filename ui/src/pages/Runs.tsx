// The runs table of a project: filter, search, sort, column picker, grouping, bulk actions.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, api, type Group, type GroupsResponse, type RunRow, type RunsResponse, type Scalar } from "../api";
import { StatusBadge } from "../components/StatusBadge";
import { VirtualTable } from "../components/Virtual";
import { Link, navigate, paths } from "../router";
import { pushToast } from "../toast";
import {
  compareValues,
  formatDate,
  formatDuration,
  formatValue,
  relativeTime,
  useDocumentTitle,
  useInterval,
  isRunning,
} from "../util";
import { ColumnPicker } from "./runs/ColumnPicker";
import { ActionBar } from "./runs/Actions";

const ROW_HEIGHT = 34;
const HEADER_HEIGHT = 34;
const DEFAULT_PER_KIND = 6;

type Order = "asc" | "desc";

interface Column {
  id: string;
  label: string;
  width: number;
  numeric?: boolean;
  value: (r: RunRow) => unknown;
  render: (r: RunRow) => ComponentChildren;
}

const BASE_COLUMNS: Column[] = [
  {
    id: "name",
    label: "Name",
    width: 220,
    value: (r) => r.name,
    render: (r) => (
      <Link href={paths.run(r.project, r.id)} class="run-link" data-testid="run-link" title={`${r.name} (${r.id})`}>
        {r.name}
      </Link>
    ),
  },
  {
    id: "status",
    label: "State",
    width: 96,
    value: (r) => r.status,
    render: (r) => <StatusBadge status={r.status} />,
  },
  {
    id: "tags",
    label: "Tags",
    width: 170,
    value: (r) => r.tags.join(","),
    render: (r) => (
      <span class="chips">
        {r.tags.map((t) => (
          <span key={t} class="chip">
            {t}
          </span>
        ))}
      </span>
    ),
  },
  {
    id: "created_at",
    label: "Created",
    width: 120,
    numeric: true,
    value: (r) => r.created_at,
    render: (r) => <span title={formatDate(r.created_at)}>{relativeTime(r.created_at)}</span>,
  },
  {
    id: "runtime",
    label: "Runtime",
    width: 90,
    numeric: true,
    value: (r) => r.runtime,
    render: (r) => formatDuration(r.runtime),
  },
];

function dataColumn(id: string): Column {
  const dot = id.indexOf(".");
  const kind = id.slice(0, dot) as "config" | "summary";
  const key = id.slice(dot + 1);
  return {
    id,
    label: key,
    width: 120,
    numeric: true,
    value: (r) => r[kind]?.[key],
    render: (r) => {
      const v = r[kind]?.[key];
      return <span title={v === undefined ? "" : String(v)}>{formatValue(v)}</span>;
    },
  };
}

function storageKey(project: string): string {
  return `runlab.columns.${project}`;
}

function loadColumns(project: string): string[] | null {
  try {
    const raw = localStorage.getItem(storageKey(project));
    const v = raw ? (JSON.parse(raw) as unknown) : null;
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : null;
  } catch {
    return null;
  }
}

function useDebounced<T>(value: T, ms: number): [T, (v: T) => void] {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(id);
  }, [value, ms]);
  return [v, setV];
}

type Item = { kind: "run"; run: RunRow; depth: number } | { kind: "group"; group: Group; key: string };

function groupKey(v: Scalar): string {
  return JSON.stringify(v);
}

export function RunsPage({ project }: { project: string }) {
  useDocumentTitle(project);
  const [data, setData] = useState<RunsResponse | null>(null);
  const [loading, setLoading] = useState(true);
  // The view (filter, search, sort, grouping) lives in the address too: links and Back keep it.
  const initial = useMemo(() => new URLSearchParams(window.location.search), []);
  const [filterText, setFilterText] = useState(initial.get("filter") ?? "");
  const [filter, setFilter] = useDebounced(filterText, 400);
  const [filterError, setFilterError] = useState<{ message: string; column: number | null; text: string } | null>(
    null,
  );
  const [qText, setQText] = useState(initial.get("q") ?? "");
  const [q, setQ] = useDebounced(qText, 250);
  const [sort, setSort] = useState<{ col: string; order: Order }>(() => ({
    col: initial.get("sort") || "created_at",
    order: initial.get("order") === "asc" ? "asc" : "desc",
  }));
  const [chosen, setChosen] = useState<string[] | null>(() => loadColumns(project));
  const [groupBy, setGroupBy] = useState(initial.get("group") ?? "");
  const [groups, setGroups] = useState<GroupsResponse | null>(null);
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [tick, setTick] = useState(0);
  const inflight = useRef<AbortController | null>(null);

  useEffect(() => {
    const sp = new URLSearchParams();
    if (filter) sp.set("filter", filter);
    if (q) sp.set("q", q);
    if (sort.col !== "created_at" || sort.order !== "desc") {
      sp.set("sort", sort.col);
      sp.set("order", sort.order);
    }
    if (groupBy) sp.set("group", groupBy);
    const search = sp.toString();
    const url = window.location.pathname + (search ? `?${search}` : "");
    if (url !== window.location.pathname + window.location.search) window.history.replaceState(null, "", url);
  }, [filter, q, sort.col, sort.order, groupBy]);

  const load = (silent: boolean) => {
    inflight.current?.abort();
    const ctl = new AbortController();
    inflight.current = ctl;
    if (!silent) setLoading(true);
    // The server sorts (one query model with the Python API); tags only are sorted here.
    const serverSort = sort.col === "tags" ? {} : { sort: sort.col, order: sort.order };
    api.runs(project, { filter, q, ...serverSort }, { quiet: true, signal: ctl.signal }).then(
      (d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setFilterError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (ctl.signal.aborted || (e instanceof DOMException && e.name === "AbortError")) return;
        setLoading(false);
        if (e instanceof ApiError && e.status === 400 && filter) {
          setFilterError({ message: e.message, column: e.column, text: filter });
          setData((d) => (d ? { ...d, runs: [], total: 0 } : d));
        } else {
          pushToast((e as Error).message);
        }
      },
    );
  };

  useEffect(() => {
    load(false);
    return () => inflight.current?.abort();
  }, [project, filter, q, sort.col, sort.order, tick]);

  useEffect(() => {
    if (!groupBy) {
      setGroups(null);
      return;
    }
    let alive = true;
    api.groups(project, { by: groupBy, filter, q }, { quiet: !!filter }).then(
      (g) => alive && setGroups(g),
      () => alive && setGroups(null),
    );
    return () => {
      alive = false;
    };
  }, [project, groupBy, filter, q, tick, data]);

  const anyRunning = !!data?.runs.some((r) => isRunning(r.status));
  useInterval(() => load(true), 2000, anyRunning);

  const configKeys = data?.columns.config ?? [];
  const summaryKeys = data?.columns.summary ?? [];
  const chosenIds = useMemo(
    () =>
      chosen ?? [
        ...configKeys.slice(0, DEFAULT_PER_KIND).map((k) => `config.${k}`),
        ...summaryKeys.slice(0, DEFAULT_PER_KIND).map((k) => `summary.${k}`),
      ],
    [chosen, configKeys.join("\n"), summaryKeys.join("\n")],
  );
  const setChosenIds = (ids: string[]) => {
    setChosen(ids);
    localStorage.setItem(storageKey(project), JSON.stringify(ids));
  };

  const columns = useMemo(() => [...BASE_COLUMNS, ...chosenIds.map(dataColumn)], [chosenIds]);
  const colById = useMemo(() => new Map(columns.map((c) => [c.id, c])), [columns]);

  const sortedRuns = useMemo(() => {
    const runs = data?.runs ?? [];
    if (sort.col !== "tags") return runs;
    const col = colById.get(sort.col);
    if (!col) return runs;
    const keyed = runs.map((r, i) => ({ r, v: col.value(r), i }));
    keyed.sort((a, b) => compareValues(a.v, b.v, sort.order) || a.i - b.i);
    return keyed.map((k) => k.r);
  }, [data, sort, colById]);

  const items: Item[] = useMemo(() => {
    if (!groupBy || !groups) return sortedRuns.map((run) => ({ kind: "run" as const, run, depth: 0 }));
    const byId = new Map(sortedRuns.map((r) => [r.id, r]));
    const out: Item[] = [];
    for (const g of groups.groups) {
      const key = groupKey(g.value);
      out.push({ kind: "group", group: g, key });
      if (expanded.has(key)) {
        const ids = new Set(g.run_ids);
        for (const r of sortedRuns) if (ids.has(r.id) && byId.has(r.id)) out.push({ kind: "run", run: r, depth: 1 });
      }
    }
    return out;
  }, [sortedRuns, groupBy, groups, expanded]);

  // Drop selections of runs no longer listed.
  useEffect(() => {
    if (!data) return;
    const ids = new Set(data.runs.map((r) => r.id));
    setSelected((s) => {
      const next = new Set([...s].filter((id) => ids.has(id)));
      return next.size === s.size ? s : next;
    });
  }, [data]);

  const template = `36px ${columns.map((c) => `${c.width}px`).join(" ")} minmax(0, 1fr)`;
  const minWidth = 36 + columns.reduce((a, c) => a + c.width, 0);
  const allSelected = sortedRuns.length > 0 && sortedRuns.every((r) => selected.has(r.id));

  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const onHeader = (id: string) =>
    setSort((s) => (s.col === id ? { col: id, order: s.order === "asc" ? "desc" : "asc" } : { col: id, order: "asc" }));

  const header = (
    <div class="vrow vhead" role="row" style={{ gridTemplateColumns: template, height: `${HEADER_HEIGHT}px` }}>
      <div class="vcell cell-check" role="columnheader">
        <input
          type="checkbox"
          aria-label="Select all runs"
          checked={allSelected}
          onChange={() => setSelected(allSelected ? new Set() : new Set(sortedRuns.map((r) => r.id)))}
        />
      </div>
      {columns.map((c) => {
        const sorted = sort.col === c.id ? sort.order : undefined;
        return (
          <div
            key={c.id}
            class={`vcell col-header ${c.id.includes(".") ? "col-data" : ""}`}
            role="columnheader"
            aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : "none"}
            data-testid="col-header"
            data-col={c.id}
            data-sort={sorted}
            title={c.id}
          >
            <button type="button" class="col-sort" onClick={() => onHeader(c.id)}>
              {c.id.startsWith("config.") && <span class="col-kind kind-config">c</span>}
              {c.id.startsWith("summary.") && <span class="col-kind kind-summary">s</span>}
              <span class="col-label">{c.label}</span>
              <span class="sort-arrow" aria-hidden="true">
                {sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : ""}
              </span>
            </button>
          </div>
        );
      })}
      <div class="vcell" />
    </div>
  );

  const renderRow = (item: Item, _i: number, style: JSX.CSSProperties) => {
    if (item.kind === "group") {
      const g = item.group;
      const open = expanded.has(item.key);
      const toggleGroup = () =>
        setExpanded((s) => {
          const next = new Set(s);
          if (next.has(item.key)) next.delete(item.key);
          else next.add(item.key);
          return next;
        });
      return (
        <div
          class="vrow group-row"
          role="row"
          data-testid="group-row"
          data-group={formatValue(g.value)}
          data-count={g.count}
          aria-expanded={open}
          style={{ ...style, gridTemplateColumns: template }}
          onClick={toggleGroup}
        >
          <div class="vcell cell-check">
            <button
              type="button"
              class="caret-btn"
              aria-label={`${open ? "Collapse" : "Expand"} group ${formatValue(g.value)}`}
              onClick={(e) => {
                e.stopPropagation();
                toggleGroup();
              }}
            >
              {open ? "▾" : "▸"}
            </button>
          </div>
          {columns.map((c) => {
            let content: ComponentChildren = null;
            if (c.id === "name")
              content = (
                <span class="group-label">
                  <span class="muted">{groupBy.replace(/^config\./, "")}=</span>
                  <strong>{g.value === null || g.value === undefined ? "(none)" : formatValue(g.value)}</strong>
                  <span class="group-count">{g.count}</span>
                </span>
              );
            else if (c.id.startsWith("summary.")) {
              const s = g.summary[c.id.slice(8)];
              if (s && s.mean !== null)
                content = (
                  <span title={`mean ${s.mean} · min ${s.min} · max ${s.max}`}>
                    <span class="muted">μ </span>
                    {formatValue(s.mean)}
                  </span>
                );
            } else if (c.id === groupBy) content = formatValue(g.value);
            return (
              <div key={c.id} class={`vcell ${c.numeric ? "num" : ""}`}>
                {content}
              </div>
            );
          })}
          <div class="vcell" />
        </div>
      );
    }
    const r = item.run;
    const sel = selected.has(r.id);
    return (
      <div
        class={`vrow run-row ${sel ? "selected" : ""} ${item.depth ? "nested" : ""}`}
        role="row"
        data-testid="run-row"
        data-run-id={r.id}
        style={{ ...style, gridTemplateColumns: template }}
      >
        <div class="vcell cell-check" role="cell">
          <input
            type="checkbox"
            data-testid="run-select"
            aria-label={`Select run ${r.name}`}
            checked={sel}
            onChange={() => toggle(r.id)}
          />
        </div>
        {columns.map((c) => (
          <div
            key={c.id}
            role="cell"
            class={`vcell cell-${c.id.replace(/[^a-z_]/gi, "_")} ${
              c.id.includes(".") && typeof c.value(r) === "number" ? "num" : ""
            } ${
              item.depth && c.id === "name" ? "indent" : ""
            }`}
          >
            {c.render(r)}
          </div>
        ))}
        <div class="vcell" />
      </div>
    );
  };

  const groupOptions = [
    ...configKeys.map((k) => ({ value: `config.${k}`, label: k })),
    { value: "group", label: "group (run field)" },
    { value: "job_type", label: "job_type" },
    { value: "status", label: "state" },
  ];

  return (
    <div class="page page-fill">
      <div class="page-head">
        <h1 class="page-title">{project}</h1>
        <span class="muted">
          <span data-testid="row-count">{sortedRuns.length}</span> {sortedRuns.length === 1 ? "run" : "runs"}
          {data && data.total !== data.runs.length ? ` of ${data.total}` : ""}
          {anyRunning && <span class="live-dot" title="Live: refreshing every 2 s"> ● live</span>}
          {loading && <span class="muted"> · loading…</span>}
        </span>
      </div>
      <div class="toolbar runs-toolbar">
        <div class="filter-box">
          <label class="sr-only" for="filter-input">
            Filter
          </label>
          <input
            id="filter-input"
            class={`input mono ${filterError ? "input-error" : ""}`}
            data-testid="filter-input"
            type="text"
            spellcheck={false}
            autocomplete="off"
            placeholder='Filter, e.g. lr >= 1e-4 and tags has "baseline"'
            value={filterText}
            onInput={(e) => setFilterText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                if (filter === filterText) setTick((t) => t + 1);
                else setFilter(filterText);
              }
              if (e.key === "Escape") {
                setFilterText("");
                setFilter("");
              }
            }}
          />
          {filterError && (
            <div class="filter-error" data-testid="filter-error" role="alert">
              <div>{filterError.message}</div>
              {filterError.column !== null && (
                <pre class="caret">
                  {filterError.text}
                  {"\n"}
                  {" ".repeat(Math.max(0, filterError.column - 1))}^
                </pre>
              )}
            </div>
          )}
        </div>
        <label class="sr-only" for="search-input">
          Search runs
        </label>
        <input
          id="search-input"
          class="input search"
          data-testid="search-input"
          type="search"
          placeholder="Search name, id, tag"
          value={qText}
          onInput={(e) => setQText(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Enter" && setQ(qText)}
        />
        <label class="inline-label">
          Group
          <select
            class="select"
            data-testid="group-by-select"
            value={groupBy}
            onChange={(e) => {
              setGroupBy(e.currentTarget.value);
              setExpanded(new Set());
            }}
          >
            <option value="">none</option>
            {groupOptions.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <ColumnPicker configKeys={configKeys} summaryKeys={summaryKeys} chosen={chosenIds} onChange={setChosenIds} />
      </div>
      <ActionBar
        project={project}
        selected={[...selected]}
        running={sortedRuns.filter((r) => selected.has(r.id) && isRunning(r.status)).map((r) => r.id)}
        onDone={() => {
          setTick((t) => t + 1);
        }}
        onCompare={() => navigate(paths.compare(project, sortedRuns.filter((r) => selected.has(r.id)).map((r) => r.id)))}
        onClear={() => setSelected(new Set())}
      />
      <VirtualTable
        testid="runs-table"
        items={items}
        rowHeight={ROW_HEIGHT}
        header={header}
        headerHeight={HEADER_HEIGHT}
        renderRow={renderRow}
        minWidth={minWidth}
        ariaRowCount={sortedRuns.length}
        empty={
          data && !loading ? (
            <div class="empty">{filter || q ? "No runs match." : "No runs in this project yet."}</div>
          ) : null
        }
      />
    </div>
  );
}
