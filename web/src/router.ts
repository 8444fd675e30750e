/** Hash routes keep the app a set of static files: the server needs no fallback route. */
import { signal } from "@preact/signals";

export type Route =
  | { name: "list" }
  | { name: "session"; id: string }
  | { name: "changes"; id: string }
  | { name: "checkpoints"; id: string }
  | { name: "new"; workspaceId?: string }
  | { name: "workspaces" }
  | { name: "workspace"; id: string }
  | { name: "workspace-new"; repoId?: string }
  | { name: "import" }
  | { name: "servers" }
  | { name: "pair"; invite: string; deviceName?: string };

export function parse(hash: string): Route {
  const h = hash.replace(/^#/, "");
  if (h.startsWith("pair=")) {
    // `#pair=<invite>&name=<device name>`: the name `pi-server pair --name` was given, if any.
    const [invite = "", ...rest] = h.slice(5).split("&");
    const name = rest.find((p) => p.startsWith("name="))?.slice(5);
    const deviceName = name ? decode(name) : undefined;
    return { name: "pair", invite, ...(deviceName ? { deviceName } : {}) };
  }
  const m = /^\/s\/([a-z0-9]{1,64})$/.exec(h);
  if (m) return { name: "session", id: m[1]! };
  const c = /^\/s\/([a-z0-9]{1,64})\/changes$/.exec(h);
  if (c) return { name: "changes", id: c[1]! };
  const k = /^\/s\/([a-z0-9]{1,64})\/checkpoints$/.exec(h);
  if (k) return { name: "checkpoints", id: k[1]! };
  if (h === "/new") return { name: "new" };
  // Workspace and repo ids are the server's (a repo's id, "ws:…"): encoded in the hash.
  const n = /^\/new\/w\/([^/]{1,400})$/.exec(h);
  if (n) return { name: "new", workspaceId: decode(n[1]!) };
  if (h === "/workspaces") return { name: "workspaces" };
  if (h === "/w/new") return { name: "workspace-new" };
  const wn = /^\/w\/new\/([^/]{1,400})$/.exec(h);
  if (wn) return { name: "workspace-new", repoId: decode(wn[1]!) };
  const w = /^\/w\/([^/]{1,400})$/.exec(h);
  if (w) return { name: "workspace", id: decode(w[1]!) };
  if (h === "/import") return { name: "import" };
  if (h === "/servers") return { name: "servers" };
  return { name: "list" };
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
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
