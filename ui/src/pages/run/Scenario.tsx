import { useEffect, useState } from "preact/hooks";
import { api } from "../../api";

export function ScenarioTab({ runId }: { runId: string }) {
  const [yaml, setYaml] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    api.scenario(runId).then(
      (r) => setYaml(r.yaml),
      () => setYaml(null),
    );
  }, [runId]);
  if (yaml === undefined) return <div class="muted pad">Loading…</div>;
  if (yaml === null) return <div class="empty">This run has no scenario.</div>;
  return (
    <pre class="scenario-yaml" data-testid="scenario-yaml">
      {yaml}
    </pre>
  );
}
