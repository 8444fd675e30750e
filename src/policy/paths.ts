import { lstatSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { globRegExp } from "./shell-words.js";
import { realOrSelf } from "../fs-paths.js";

export interface PathContext {
  /** The server's data directory. */
  dataDir: string;
  /** The session's own worktree (inside the data dir, yet the session's to use). */
  worktree: string;
  home: string;
}

export type PathClass = "data-dir" | "skills" | "proc-environ";

const PROC_ENVIRON = /^\/proc\/[^/]+\/(task\/[^/]+\/)?environ$/;
const MAX_LINKS = 40;
const MAX_GLOB_MATCHES = 500;

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

/** realpath of the deepest part of `path` that exists (canonical case on macOS), the rest appended. */
function canonical(path: string): string {
  let existing = path;
  while (existing !== "/") {
    try {
      lstatSync(existing);
      break;
    } catch {
      existing = dirname(existing);
    }
  }
  try {
    const real = realpathSync.native(existing);
    return real === "/" ? path : real + path.slice(existing.length);
  } catch {
    return path;
  }
}

/**
 * Resolves a path the way the kernel walks it: `..` goes to the parent of where a symlink led, not
 * of the link's name; components that do not exist (yet) are taken as written.
 */
export function physicalPath(path: string, cache?: Map<string, string>): string {
  const hit = cache?.get(path);
  if (hit !== undefined) return hit;
  const pending = path.split("/").filter((c) => c !== "" && c !== ".");
  let current = "/";
  let links = 0;
  while (pending.length > 0) {
    const comp = pending.shift() as string;
    if (comp === "..") {
      current = dirname(current);
      continue;
    }
    const next = current === "/" ? `/${comp}` : `${current}/${comp}`;
    let target: string | undefined;
    try {
      if (lstatSync(next).isSymbolicLink() && links++ < MAX_LINKS) target = readlinkSync(next);
    } catch {
      target = undefined;
    }
    if (target === undefined) {
      current = next;
      continue;
    }
    if (isAbsolute(target)) current = "/";
    pending.unshift(...target.split("/").filter((c) => c !== "" && c !== "."));
  }
  const result = canonical(current);
  cache?.set(path, result);
  return result;
}

/** Classifies paths against the data dir, resolving `..` and symlinks in every way they could go. */
export class PathGuard {
  private readonly data: string[];
  private readonly worktrees: string[];
  private readonly skills: string[];
  private readonly cache = new Map<string, string>();
  readonly home: string;

  constructor(ctx: PathContext) {
    const both = (p: string): string[] => [...new Set([resolve(p), realOrSelf(p)])];
    this.data = both(ctx.dataDir);
    this.worktrees = both(ctx.worktree);
    this.skills = this.data.map((d) => `${d}/skills`);
    this.home = ctx.home;
  }

  /** The lexical and the physical reading of an absolute path. */
  forms(abs: string): string[] {
    return [...new Set([resolve(abs), physicalPath(abs, this.cache)])];
  }

  classify(abs: string): PathClass | undefined {
    let result: PathClass | undefined;
    for (const p of this.forms(abs)) {
      if (PROC_ENVIRON.test(p)) return "proc-environ";
      if (!this.data.some((d) => within(p, d))) continue;
      if (this.worktrees.some((w) => within(p, w))) continue;
      if (this.skills.some((s) => within(p, s))) result ??= "skills";
      else return "data-dir";
    }
    return result;
  }

  /** True when removing or moving `abs` would take the data dir with it. */
  containsDataDir(abs: string): boolean {
    return this.forms(abs).some((p) => this.data.some((d) => within(d, p)));
  }
}

/** Matches of an absolute glob on disk (capped); `truncated` when there were more to look at. */
export function expandGlob(absGlob: string): { matches: string[]; truncated: boolean } {
  const comps = absGlob.split("/").filter((c) => c !== "");
  let current = ["/"];
  let truncated = false;
  for (const comp of comps) {
    const literal = !/(^|[^\\])[*?[]/.test(comp);
    if (literal) {
      const name = comp.replace(/\\(.)/g, "$1");
      current = current.map((c) => (c === "/" ? `/${name}` : `${c}/${name}`));
      continue;
    }
    const re = globRegExp(comp);
    const next: string[] = [];
    for (const dir of current) {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        if (n.startsWith(".") && !comp.startsWith(".")) continue;
        if (!re.test(n)) continue;
        if (next.length >= MAX_GLOB_MATCHES) {
          truncated = true;
          break;
        }
        next.push(dir === "/" ? `/${n}` : `${dir}/${n}`);
      }
    }
    current = next;
  }
  return { matches: current, truncated };
}
