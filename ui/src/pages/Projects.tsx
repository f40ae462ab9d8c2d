import { useEffect, useState } from "preact/hooks";
import { api, type Project } from "../api";
import { Link, navigate, paths } from "../router";
import { formatDate, relativeTime, useDocumentTitle } from "../util";

export function ProjectsPage() {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useDocumentTitle("Projects");
  useEffect(() => {
    api.projects().then(
      (p) => setProjects([...p].sort((a, b) => (b.last_activity ?? 0) - (a.last_activity ?? 0))),
      (e: Error) => setError(e.message),
    );
  }, []);
  return (
    <div class="page projects-page">
      <div class="page-head">
        <h1 class="page-title">Projects</h1>
        <Link href={paths.trash()} class="page-head-link" data-testid="trash-link">
          Deleted runs
        </Link>
      </div>
      {error && <div class="banner banner-error">{error}</div>}
      {projects === null && !error && <div class="muted">Loading…</div>}
      {projects && projects.length === 0 && (
        <div class="empty">
          No projects yet. Record a run with <code>runlab.init(project="…")</code>.
        </div>
      )}
      {projects && projects.length > 0 && (
        <table class="table projects-table">
          <thead>
            <tr>
              <th>Project</th>
              <th class="num">Runs</th>
              <th>Last activity</th>
            </tr>
          </thead>
          <tbody>
            {projects.map((p) => (
              <tr
                key={p.name}
                class="clickable"
                data-testid="project-row"
                data-project={p.name}
                onClick={(e) => {
                  if (!(e.target as HTMLElement).closest("a")) navigate(paths.runs(p.name));
                }}
              >
                <td>
                  <Link href={paths.runs(p.name)} class="strong-link">
                    {p.name}
                  </Link>
                </td>
                <td class="num">{p.run_count}</td>
                <td title={formatDate(p.last_activity)}>{relativeTime(p.last_activity)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
