// A tiny global toast store: API errors must be visible, never swallowed.
import { useEffect, useState } from "preact/hooks";

interface Toast {
  id: number;
  message: string;
  kind: "error" | "info";
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<(t: Toast[]) => void>();

function emit(): void {
  for (const l of listeners) l(toasts);
}

export function pushToast(message: string, kind: "error" | "info" = "error"): void {
  // The same message repeated by a poller shows once.
  if (toasts.some((t) => t.message === message)) return;
  const toast = { id: nextId++, message, kind };
  toasts = [...toasts, toast];
  emit();
  window.setTimeout(() => dismiss(toast.id), kind === "error" ? 8000 : 3000);
}

function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

export function Toasts() {
  const [items, setItems] = useState<Toast[]>(toasts);
  useEffect(() => {
    listeners.add(setItems);
    return () => void listeners.delete(setItems);
  }, []);
  return (
    <div class="toasts" aria-live="assertive">
      {items.map((t) => (
        <div key={t.id} class={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : "status"} data-testid="toast">
          <span>{t.message}</span>
          <button type="button" class="toast-close" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
