/** Hash routes keep the app a set of static files: the server needs no fallback route. */
import { signal } from "@preact/signals";

export type Route =
  | { name: "list" }
  | { name: "session"; id: string }
  | { name: "changes"; id: string }
  | { name: "new" }
  | { name: "servers" }
  | { name: "pair"; invite: string };

export function parse(hash: string): Route {
  const h = hash.replace(/^#/, "");
  if (h.startsWith("pair=")) return { name: "pair", invite: h.slice(5) };
  const m = /^\/s\/([a-z0-9]{1,64})$/.exec(h);
  if (m) return { name: "session", id: m[1]! };
  const c = /^\/s\/([a-z0-9]{1,64})\/changes$/.exec(h);
  if (c) return { name: "changes", id: c[1]! };
  if (h === "/new") return { name: "new" };
  if (h === "/servers") return { name: "servers" };
  return { name: "list" };
}

export const route = signal<Route>(parse(location.hash));
addEventListener("hashchange", () => (route.value = parse(location.hash)));

export function go(hash: string): void {
  location.hash = hash;
}

/** Replaces the current entry (no hashchange fires for that, so the route is set here). */
export function replace(hash: string): void {
  history.replaceState(null, "", `${location.pathname}#${hash}`);
  route.value = parse(location.hash);
}
