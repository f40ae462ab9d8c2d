// A fixed-row-height virtual list: only the rows in (and just around) the viewport are rendered,
// so a table of 10,000+ rows scrolls as smoothly as one of 10.
import type { ComponentChildren, JSX } from "preact";
import { Fragment } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

interface Props<T> {
  items: T[];
  rowHeight: number;
  header?: ComponentChildren;
  headerHeight?: number;
  /** Must not set a `key`: the list keys rows by slot. */
  renderRow: (item: T, index: number, style: JSX.CSSProperties) => ComponentChildren;
  minWidth?: number;
  overscan?: number;
  testid?: string;
  empty?: ComponentChildren;
  ariaRowCount?: number;
}

export function VirtualTable<T>(props: Props<T>) {
  const { items, rowHeight, header, headerHeight = 0, renderRow, overscan = 8 } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const frame = useRef(0);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setHeight(el.clientHeight);
    const ro = new ResizeObserver(() => setHeight(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // Keep the scroll position valid when the list shrinks (filter, delete).
  useEffect(() => {
    const el = ref.current;
    if (el && el.scrollTop > items.length * rowHeight) {
      el.scrollTop = 0;
      setScrollTop(0);
    }
  }, [items.length, rowHeight]);

  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      if (ref.current) setScrollTop(ref.current.scrollTop);
    });
  };

  const first = Math.max(0, Math.floor((scrollTop - headerHeight) / rowHeight) - overscan);
  const visible = Math.ceil(height / rowHeight) + 2 * overscan;
  const last = Math.min(items.length, first + visible);
  const rows: ComponentChildren[] = [];
  // Rows are keyed by their slot in the window, not by identity: a row scrolled out is
  // patched into the one scrolled in instead of being destroyed and re-created.
  const pool = Math.max(1, visible);
  for (let i = first; i < last; i++) {
    rows.push(
      <Fragment key={i % pool}>
        {renderRow(items[i], i, {
        position: "absolute",
        top: `${i * rowHeight}px`,
        height: `${rowHeight}px`,
        left: 0,
        right: 0,
      })}
      </Fragment>,
    );
  }
  return (
    <div
      class="vtable"
      ref={ref}
      onScroll={onScroll}
      role="table"
      aria-rowcount={props.ariaRowCount ?? items.length}
      data-testid={props.testid}
    >
      <div style={{ minWidth: props.minWidth ? `${props.minWidth}px` : undefined }}>
        {header}
        <div class="vtable-body" role="rowgroup" style={{ height: `${items.length * rowHeight}px`, position: "relative" }}>
          {rows}
        </div>
        {items.length === 0 && props.empty}
      </div>
    </div>
  );
}
