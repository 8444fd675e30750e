import { homedir, userInfo } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { ProtocolError } from "../protocol/errors.js";
import { mirrorPath } from "../repos/session-repo.js";
import {
  buildToolEnv,
  createToolRuntime,
  envFileNames,
  type RuntimeLimits,
  type ToolRuntime,
} from "../runtime/index.js";
import type { ServerConfig } from "../store/config.js";
import { readHostEnv } from "../store/host-env.js";
import type { DataPaths } from "../store/paths.js";

function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return "user";
  }
}

export interface SessionRuntimeInput {
  paths: DataPaths;
  config: ServerConfig;
  limits: RuntimeLimits;
  worktree: string;
  repoId: string | null;
  /** Who the agent's commits are by (HOME is empty in the sandbox, so git has no identity of its own). */
  gitIdentity?: { name: string; email: string };
}

/**
 * The runtime one session's tools run in. Its sandbox sees the system dirs, the session's worktree,
 * the mirror's git objects (read-only: the session's repository borrows them) and what the owner
 * added in config; never the rest of the data dir, whatever the owner added.
 */
export function sessionRuntime(input: SessionRuntimeInput): ToolRuntime {
  const { paths, config } = input;
  const extraRo = config.sandbox?.readOnlyPaths ?? [];
  const extraRw = config.sandbox?.readWritePaths ?? [];
  for (const p of [...extraRo, ...extraRw]) {
    if (within(paths.root, p) || within(p, paths.root)) {
      throw new ProtocolError(
        "conflict",
        `sandbox path ${p} overlaps the data dir ${paths.root}; remove it from sandbox.readOnlyPaths/readWritePaths in ${paths.config}`,
      );
    }
  }
  // An empty tmpfs is mounted at HOME: never over "/" or a system dir (service users have such homes).
  const realHome = homedir();
  const home =
    isAbsolute(realHome) &&
    realHome !== "/" &&
    !["/usr", "/bin", "/etc", "/lib", "/sbin"].some((d) => within(d, realHome))
      ? realHome
      : "/tmp/home";
  const hostEnv = readHostEnv(paths.hostEnv);
  // The tools on the PATH `pi-server env init` captured are visible (read-only), so they run; a
  // PATH entry that is the home dir itself, the root, or overlaps the data dir is not.
  const pathDirs = (hostEnv?.PATH ?? "")
    .split(":")
    .filter((d) => isAbsolute(d))
    .map((d) => resolve(d))
    .filter((d) => !within(realHome, d) && !within(paths.root, d) && !within(d, paths.root));
  const env = buildToolEnv({
    serverEnv: process.env,
    hostEnv,
    secretNames: new Set(envFileNames(paths.env)),
    home,
    user: userName(),
    tmpDir: "/tmp",
    gitIdentity: input.gitIdentity,
  });
  const readOnly = [
    ...(input.repoId ? [join(mirrorPath(paths.mirrors, input.repoId), "objects")] : []),
    ...pathDirs,
    ...extraRo,
  ];
  return createToolRuntime(
    config.runtime ?? "sandbox",
    {
      worktree: input.worktree,
      readOnly,
      readWrite: extraRw,
      network: config.sandbox?.network ?? false,
      home,
      env,
      bwrap: config.sandbox?.bwrap,
    },
    input.limits,
  );
}
