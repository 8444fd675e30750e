import { homedir, userInfo } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
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
import { within, realOrSelf } from "../fs-paths.js";

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
  /** The session's workspace settings; they win over config's runtime and sandbox.network. */
  workspace?: {
    runtime: "host" | "sandbox" | null;
    network: "off" | "on" | null;
    readOnlyMounts: string[];
  } | null;
  /**
   * Skill directories the session's skills live in (read-only, at the path pi names in the prompt).
   * Each is `[source, target]`: the source resolved, so a symlink cannot widen what is mounted.
   */
  skillMounts?: Array<[string, string]>;
}

/**
 * The runtime one session's tools run in. Its sandbox sees the system dirs, the session's worktree,
 * the mirror's git objects (read-only: the session's repository borrows them) and what the owner
 * added in config; never the rest of the data dir, whatever the owner added.
 */
export function sessionRuntime(input: SessionRuntimeInput): ToolRuntime {
  const { paths, config } = input;
  const extraRo = [...(config.sandbox?.readOnlyPaths ?? []), ...(input.workspace?.readOnlyMounts ?? [])];
  const extraRw = config.sandbox?.readWritePaths ?? [];
  const dataRoot = realOrSelf(paths.root);
  for (const p of [...extraRo, ...extraRw]) {
    const real = realOrSelf(p);
    if (within(dataRoot, real) || within(real, dataRoot)) {
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
  // Symlinks resolved first (bwrap follows them): a PATH entry that is, or leads to, HOME or an
  // ancestor of it, or the data dir, is not mounted.
  const realHomeDir = realOrSelf(realHome);
  const pathDirs = (hostEnv?.PATH ?? "")
    .split(":")
    .filter((d) => d.startsWith("/"))
    .map((d) => realOrSelf(resolve(d)))
    .filter((d) => !within(realHomeDir, d) && !within(dataRoot, d) && !within(d, dataRoot));
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
  const network = input.workspace?.network ?? (config.sandbox?.network ? "on" : "off");
  return createToolRuntime(
    input.workspace?.runtime ?? config.runtime ?? "sandbox",
    {
      worktree: input.worktree,
      readOnly,
      readWrite: extraRw,
      ...(input.skillMounts && input.skillMounts.length > 0 && { readOnlyAt: input.skillMounts }),
      network: network === "on",
      home,
      env,
      bwrap: config.sandbox?.bwrap,
    },
    input.limits,
  );
}
