import type { ToolRuntime } from "../runtime/index.js";
import type { DataPaths } from "../store/paths.js";
import type { Sdk } from "./pi.js";
import {
  discoverSkills,
  inDataDir,
  missingCommands,
  type SkillEntry,
  type SkillMount,
  skillMount,
} from "./skills.js";

export interface SkillVerdict extends SkillEntry {
  allowed: boolean;
  compatible: boolean;
  missing: string[];
}

/**
 * Each skill with whether a workspace gets it: allowed by its allowlist (null: every skill), and
 * compatible with where its tools run (every declared command on the PATH there; a sandboxed skill
 * also needs a directory the sandbox may mount). `runtimeWith` builds the workspace's runtime with
 * the given skill mounts; the commands are looked up through it, so the answer is the tools' own.
 */
export async function judgeSkills(o: {
  sdk: Sdk;
  paths: DataPaths;
  allow: string[] | null;
  sandboxed: boolean;
  cwd: string;
  runtimeWith: (mounts: Array<[string, string]>) => ToolRuntime;
}): Promise<{ skills: SkillVerdict[]; mounts: SkillMount[] }> {
  const all = discoverSkills(o.sdk, o.paths);
  const allowSet = o.allow === null ? undefined : new Set(o.allow);
  const mountOf = new Map<string, SkillMount | undefined>();
  for (const s of all) mountOf.set(s.name, o.sandboxed ? skillMount(s, o.paths) : undefined);
  // Unsandboxed, the policy keeps every tool out of the data dir: a skill there cannot be read.
  const reachable = (s: SkillEntry): boolean =>
    o.sandboxed ? mountOf.get(s.name) !== undefined : !inDataDir(s, o.paths);
  const candidates = all.filter(reachable);
  const mountsOf = (list: SkillEntry[]): SkillMount[] =>
    list.map((s) => mountOf.get(s.name)).filter((m): m is SkillMount => m !== undefined);
  const wanted = candidates.flatMap((s) => s.commands);
  const missing =
    wanted.length > 0
      ? await missingCommands(o.runtimeWith(bindings(mountsOf(candidates))), o.cwd, wanted)
      : new Set();
  const skills = all.map((s) => {
    const lacks = s.commands.filter((c) => missing.has(c));
    const mountable = reachable(s);
    return {
      ...s,
      allowed: allowSet === undefined || allowSet.has(s.name),
      compatible: mountable && lacks.length === 0,
      missing: lacks,
    };
  });
  const kept = skills.filter((s) => s.allowed && s.compatible);
  return { skills, mounts: mountsOf(kept) };
}

/** The sandbox's read-only mounts `[source, target]` for these skills. */
export function bindings(mounts: SkillMount[]): Array<[string, string]> {
  const seen = new Set<string>();
  return mounts
    .filter((m) => (seen.has(m.target) ? false : (seen.add(m.target), true)))
    .map((m) => [m.source, m.target]);
}
