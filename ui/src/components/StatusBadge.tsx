export function StatusBadge({ status, testid }: { status: string; testid?: string }) {
  return (
    <span class={`badge status-${status}`} data-testid={testid} data-status={status}>
      {status === "running" && <span class="pulse" aria-hidden="true" />}
      {status}
    </span>
  );
}
