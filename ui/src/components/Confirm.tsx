// A modal asking to confirm a destructive action: Cancel has the focus, Escape cancels.
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";

interface Props {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  /** `data-testid` of the confirming button. */
  testid: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

let nextId = 1;

export function ConfirmDialog({ title, children, confirmLabel, testid, busy = false, onConfirm, onCancel }: Props) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  const titleId = useRef(`confirm-title-${nextId++}`).current;
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onCancel();
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onCancel]);
  return (
    <div class="modal-backdrop" onClick={onCancel}>
      <div
        class="modal"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={titleId}
        onClick={(e) => e.stopPropagation()}
      >
        <h2 id={titleId}>{title}</h2>
        {children}
        <div class="row-gap end">
          <button type="button" class="btn" ref={cancelRef} onClick={onCancel}>
            Cancel
          </button>
          <button type="button" class="btn btn-danger" data-testid={testid} disabled={busy} onClick={onConfirm}>
            {confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
