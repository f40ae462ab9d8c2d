import { useEffect, useState } from "preact/hooks";
import { api, type Info } from "./api";
import { Toasts } from "./toast";
import { Link, parseRoute, paths, useLocation } from "./router";
import { ProjectsPage } from "./pages/Projects";
import { RunsPage } from "./pages/Runs";
import { RunPage } from "./pages/Run";
import { ComparePage } from "./pages/Compare";
import { TrashPage } from "./pages/Trash";

export function App() {
  const loc = useLocation();
  const route = parseRoute(loc.pathname);
  const [info, setInfo] = useState<Info | null>(null);
  useEffect(() => {
    api.info().then(setInfo, () => undefined);
  }, []);

  let crumbs: { label: string; href?: string }[] = [];
  if (route.page === "trash") crumbs = [{ label: "Deleted runs" }];
  else if (route.page !== "projects" && route.page !== "notfound") {
    crumbs = [{ label: route.project, href: paths.runs(route.project) }];
    if (route.page === "run") crumbs.push({ label: route.id });
    if (route.page === "compare") crumbs.push({ label: "compare" });
  }

  let page;
  switch (route.page) {
    case "projects":
      page = <ProjectsPage />;
      break;
    case "runs":
      page = <RunsPage key={route.project} project={route.project} />;
      break;
    case "run":
      page = <RunPage key={route.id} project={route.project} id={route.id} tab={loc.search.get("tab")} />;
      break;
    case "compare":
      page = (
        <ComparePage
          project={route.project}
          ids={(loc.search.get("runs") ?? "").split(",").filter(Boolean)}
        />
      );
      break;
    case "trash":
      page = <TrashPage />;
      break;
    default:
      page = (
        <div class="page">
          <h1>Not found</h1>
          <p>
            <Link href="/">Back to projects</Link>
          </p>
        </div>
      );
  }

  return (
    <div class="app">
      <header class="topbar">
        <Link href="/" class="brand">
          <span class="brand-mark" aria-hidden="true" />
          runlab
        </Link>
        <nav class="crumbs" aria-label="Breadcrumb">
          <Link href="/">Projects</Link>
          {crumbs.map((c) => (
            <span key={c.label}>
              <span class="crumb-sep" aria-hidden="true">
                /
              </span>
              {c.href ? <Link href={c.href}>{c.label}</Link> : <span>{c.label}</span>}
            </span>
          ))}
        </nav>
        <span class="topbar-info" title={info?.dir}>
          {info ? `${info.dir} · v${info.version}` : ""}
        </span>
      </header>
      <main class="main">{page}</main>
      <Toasts />
    </div>
  );
}
