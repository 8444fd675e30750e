import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { writeJsonAtomic } from "../store/atomic.js";
import { hasCommits, repoTopLevel } from "./git.js";
import type { GitExtra } from "./git.js";
import { checkCloneUrl, nameFromUrl, RemoteUrlError } from "./remote.js";
import { mirrorPath, mirrorReady, syncMirror } from "./session-repo.js";
import { within, realOrSelf } from "../fs-paths.js";

export interface RepoEntry {
  id: string;
  name: string;
  /** A local repository; for a clone url, the server's clone of it (repos/<id>.git in the data dir). */
  path: string;
  /** Set for a repo registered by clone url: the server's clone is the only copy it has. */
  url?: string;
}

export interface RepoStatus extends RepoEntry {
  ok: boolean;
  error?: string;
}

/** A path `repos add` refuses, said without blaming repos.json. */
export class RepoPathError extends Error {
  override name = "RepoPathError";
}

export class ReposFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "ReposFileError";
  }
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The one repository inside the data dir that may be registered: the demo repo the server makes
 * for `serve --demo`. It is the server's own (no sandbox mounts it), unlike anything under sessions/.
 */
export const DEMO_REPO_DIR = "demo-repo";

/**
 * Reads repos.json. A missing file is an empty list; an unreadable file is an error; a bad entry is
 * kept with `ok: false` and its reason so one typo does not hide the other repos.
 */
export function readReposFile(file: string): RepoStatus[] {
  const dataDir = realOrSelf(dirname(file));
  return readRawEntries(file).map((raw, i, all) => checkEntry(raw, i, all, dataDir));
}

/** Kernel file systems: a path there names a process's view (/proc/self/cwd is the server's own). */
const PSEUDO_FS = ["/proc", "/sys", "/dev"];

/** Why a (real) path cannot be a registered repo, or undefined when it can. */
function refusedPath(real: string, dataDir: string): string | undefined {
  if (PSEUDO_FS.some((d) => within(real, d))) return `${real} is on a kernel file system, not a repository`;
  if (within(real, dataDir) && real !== join(dataDir, DEMO_REPO_DIR))
    return `${real} is inside the server's data dir ${dataDir}`;
  return undefined;
}

function readRawEntries(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new ReposFileError(file, (err as Error).message);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ReposFileError(file, `not valid JSON (${(err as Error).message})`);
  }
  const list = (data as { repos?: unknown } | null)?.repos;
  if (typeof data !== "object" || data === null || !Array.isArray(list)) {
    throw new ReposFileError(file, 'expected {"repos": [{"id", "name", "path" or "url"}, ...]}');
  }
  return list;
}

function checkEntry(raw: unknown, i: number, all: unknown[], dataDir: string): RepoStatus {
  const e = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const id = typeof e.id === "string" ? e.id : `#${i}`;
  const path = typeof e.path === "string" ? e.path : "";
  const name = typeof e.name === "string" && e.name.length > 0 ? e.name : basename(path) || id;
  const bad = (error: string): RepoStatus => ({ id, name, path, ok: false, error });
  if (typeof e.id !== "string" || !ID_PATTERN.test(e.id)) {
    return bad(`entry ${i}: "id" must match ${ID_PATTERN.source}`);
  }
  const firstWithId = all.findIndex((o) => (o as { id?: unknown } | null)?.id === id);
  if (firstWithId !== i) return bad(`entry ${i}: duplicate id "${id}"`);
  if (typeof e.url === "string") {
    const clone = mirrorPath(join(dataDir, "repos"), id);
    const name = typeof e.name === "string" && e.name.length > 0 ? e.name : nameFromUrl(e.url);
    if (e.path !== undefined) return { ...bad(`entry ${i}: give "path" or "url", not both`), name };
    try {
      checkCloneUrl(e.url);
    } catch (err) {
      return { id, name, path: clone, url: e.url, ok: false, error: (err as Error).message };
    }
    return { id, name, path: clone, url: e.url, ok: true };
  }
  if (typeof e.path !== "string" || !isAbsolute(e.path))
    return bad(`entry ${i}: "path" must be an absolute path`);
  // Symlinks and /proc/self-style paths are resolved once, here: everything after uses the real path.
  if (PSEUDO_FS.some((d) => within(path, d)))
    return bad(`path ${path} is on a kernel file system, not a repository`);
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return bad(`path ${path} does not exist`);
  if (!st.isDirectory()) return bad(`path ${path} is not a directory`);
  const real = realOrSelf(path);
  const refused = refusedPath(real, dataDir);
  if (refused) return bad(refused);
  return { id, name, path: real, ok: true };
}

/** Adds the git checks that need a subprocess; run when listing or before creating a worktree. */
export async function checkRepo(repo: RepoStatus): Promise<RepoStatus> {
  if (!repo.ok) return repo;
  if (repo.url !== undefined) {
    if (await mirrorReady(repo.path)) return repo;
    return {
      ...repo,
      ok: false,
      error: `${repo.url} is not cloned yet (add it again: repos.add or pi-server repos add)`,
    };
  }
  const top = await repoTopLevel(repo.path);
  if (!top) return { ...repo, ok: false, error: `path ${repo.path} is not a git repository` };
  if (!(await hasCommits(repo.path))) {
    return { ...repo, ok: false, error: `repository ${repo.path} has no commits yet; commit once first` };
  }
  return repo;
}

export async function listRepos(file: string): Promise<RepoStatus[]> {
  return Promise.all(readReposFile(file).map(checkRepo));
}

function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 48);
  return s || "repo";
}

/** Registers a local repository; returns the stored entry. Used by `pi-server repos add`. */
export async function addRepo(
  file: string,
  path: string,
  opts: { id?: string; name?: string } = {},
): Promise<RepoEntry> {
  const abs = resolve(path);
  if (PSEUDO_FS.some((d) => within(abs, d))) throw new RepoPathError(`${abs} is on a kernel file system`);
  if (!statSync(abs, { throwIfNoEntry: false })?.isDirectory()) {
    throw new RepoPathError(`${abs} does not exist or is not a directory`);
  }
  const top = await repoTopLevel(abs);
  if (!top)
    throw new RepoPathError(
      `${abs} is not a git repository (run "git init" there and commit once, or give the path of a clone)`,
    );
  if (!(await hasCommits(top))) {
    throw new RepoPathError(`${top} has no commits yet; commit once, then add it`);
  }
  const refused = refusedPath(realOrSelf(top), realOrSelf(dirname(file)));
  if (refused) throw new RepoPathError(refused);
  const raw = readRawEntries(file);
  const current = readReposFile(file);
  if (current.some((r) => r.path === top)) throw new RepoPathError(`${top} is already registered`);
  let id = opts.id ?? slug(opts.name ?? basename(top));
  if (!ID_PATTERN.test(id)) throw new ReposFileError(file, `id "${id}" must match ${ID_PATTERN.source}`);
  if (opts.id && current.some((r) => r.id === id)) throw new ReposFileError(file, `id "${id}" is taken`);
  for (let n = 2; current.some((r) => r.id === id); n++) id = `${slug(opts.name ?? basename(top))}-${n}`;
  const entry: RepoEntry = { id, name: opts.name ?? basename(top), path: top };
  writeJsonAtomic(file, { repos: [...raw, entry] });
  return entry;
}

/**
 * Registers a clone url: the server clones it into the data dir now (`remote`: the credential
 * settings of that fetch), so a wrong url or a missing token is said at once.
 */
export async function addRemoteRepo(
  file: string,
  url: string,
  remote: GitExtra,
  opts: { id?: string; name?: string } = {},
): Promise<RepoEntry> {
  try {
    checkCloneUrl(url);
  } catch (err) {
    if (err instanceof RemoteUrlError) throw new ReposFileError(file, err.message);
    throw err;
  }
  const raw = readRawEntries(file);
  const current = readReposFile(file);
  if (current.some((r) => r.url === url)) throw new ReposFileError(file, `${url} is already registered`);
  const base = slug(opts.name ?? nameFromUrl(url));
  let id = opts.id ?? base;
  if (!ID_PATTERN.test(id)) throw new ReposFileError(file, `id "${id}" must match ${ID_PATTERN.source}`);
  if (opts.id && current.some((r) => r.id === id)) throw new ReposFileError(file, `id "${id}" is taken`);
  const reposDir = join(dirname(file), "repos");
  // A leftover clone of an unregistered repo with the same id belongs to that one: take another id.
  for (let n = 2; current.some((r) => r.id === id) || (!opts.id && existsSync(mirrorPath(reposDir, id))); n++)
    id = `${base}-${n}`;
  const clone = mirrorPath(reposDir, id);
  const fresh = !existsSync(clone);
  try {
    await syncMirror(clone, url, remote);
  } catch (err) {
    if (fresh) rmSync(clone, { recursive: true, force: true });
    throw new ReposFileError(file, `could not clone ${url}: ${(err as Error).message}`);
  }
  const entry: RepoEntry = { id, name: opts.name ?? nameFromUrl(url), path: clone, url };
  writeJsonAtomic(file, { repos: [...raw, { id, name: entry.name, url }] });
  return entry;
}

/** Appends an entry the server made itself (the demo repo); false when its id is already taken. */
export function appendRepoEntry(file: string, entry: RepoEntry): boolean {
  const raw = readRawEntries(file);
  if (raw.some((o) => (o as { id?: unknown } | null)?.id === entry.id)) return false;
  writeJsonAtomic(file, { repos: [...raw, entry] });
  return true;
}

export function removeRepo(file: string, id: string): boolean {
  const raw = readRawEntries(file);
  const kept = raw.filter((o) => (o as { id?: unknown } | null)?.id !== id);
  if (kept.length === raw.length) return false;
  writeJsonAtomic(file, { repos: kept });
  return true;
}
