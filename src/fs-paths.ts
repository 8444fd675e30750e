import { realpathSync } from "node:fs";
import { isAbsolute, relative } from "node:path";

/** True when `path` is `dir` or below it (both absolute and already resolved). */
export function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** The real path where it exists, else the path as given (a file not created yet). */
export function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
