// History-API routing for the routes of ui/API.md.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "projects" }
  | { page: "runs"; project: string }
  | { page: "run"; project: string; id: string }
  | { page: "compare"; project: string }
  | { page: "trash" }
  | { page: "notfound" };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "projects" };
  if (parts.length === 1 && parts[0] === "trash") return { page: "trash" };
  if (parts[0] !== "projects" || parts.length < 2) return { page: "notfound" };
  const project = parts[1];
  if (parts.length === 2) return { page: "runs", project };
  if (parts.length === 3 && parts[2] === "compare") return { page: "compare", project };
  if (parts.length === 4 && parts[2] === "runs") return { page: "run", project, id: parts[3] };
  return { page: "notfound" };
}

const NAV_EVENT = "runlab:navigate";

export function navigate(url: string, replace = false): void {
  if (replace) window.history.replaceState(null, "", url);
  else window.history.pushState(null, "", url);
  window.dispatchEvent(new Event(NAV_EVENT));
}

/** The current location (pathname + search), re-rendering on navigation. */
export function useLocation(): { pathname: string; search: URLSearchParams } {
  const [loc, setLoc] = useState(() => window.location.pathname + window.location.search);
  useEffect(() => {
    const on = () => setLoc(window.location.pathname + window.location.search);
    window.addEventListener("popstate", on);
    window.addEventListener(NAV_EVENT, on);
    return () => {
      window.removeEventListener("popstate", on);
      window.removeEventListener(NAV_EVENT, on);
    };
  }, []);
  const q = loc.indexOf("?");
  return {
    pathname: q < 0 ? loc : loc.slice(0, q),
    search: new URLSearchParams(q < 0 ? "" : loc.slice(q)),
  };
}

/** Set one query parameter without adding a history entry. */
export function setQueryParam(name: string, value: string | null): void {
  const url = new URL(window.location.href);
  if (value === null) url.searchParams.delete(name);
  else url.searchParams.set(name, value);
  navigate(url.pathname + url.search, true);
}

export const paths = {
  projects: () => "/",
  runs: (p: string) => `/projects/${encodeURIComponent(p)}`,
  run: (p: string, id: string, tab?: string) =>
    `/projects/${encodeURIComponent(p)}/runs/${encodeURIComponent(id)}${tab ? `?tab=${tab}` : ""}`,
  trash: () => "/trash",
  compare: (p: string, ids: string[]) =>
    `/projects/${encodeURIComponent(p)}/compare?runs=${ids.map(encodeURIComponent).join(",")}`,
};

type LinkProps = { href: string; children?: ComponentChildren } & Omit<
  JSX.HTMLAttributes<HTMLAnchorElement>,
  "href"
>;

/** An <a> that navigates in-app on a plain left click (and normally otherwise). */
export function Link({ href, children, onClick, ...rest }: LinkProps) {
  return (
    <a
      {...rest}
      href={href}
      onClick={(e) => {
        if (onClick) (onClick as (e: MouseEvent) => void)(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
