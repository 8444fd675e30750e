import type { ToolRuntime } from "../runtime/index.js";
import type { DataPaths } from "../store/paths.js";
import type { Sdk } from "./pi.js";
import { discoverSkills, missingCommands, type SkillEntry, skillMount } from "./skills.js";

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
}): Promise<{ skills: SkillVerdict[]; mounts: Array<[string, string]> }> {
  const all = discoverSkills(o.sdk, o.paths);
  const allowSet = o.allow === null ? undefined : new Set(o.allow);
  const mountOf = new Map<string, [string, string] | undefined>();
  for (const s of all) mountOf.set(s.name, o.sandboxed ? skillMount(s, o.paths) : undefined);
  const candidates = all.filter((s) => !o.sandboxed || mountOf.get(s.name) !== undefined);
  const mountsOf = (list: SkillEntry[]): Array<[string, string]> =>
    list.map((s) => mountOf.get(s.name)).filter((m): m is [string, string] => m !== undefined);
  const mounts = mountsOf(candidates);
  const wanted = candidates.flatMap((s) => s.commands);
  const missing =
    wanted.length > 0 ? await missingCommands(o.runtimeWith(dedupe(mounts)), o.cwd, wanted) : new Set();
  const skills = all.map((s) => {
    const lacks = s.commands.filter((c) => missing.has(c));
    const mountable = !o.sandboxed || mountOf.get(s.name) !== undefined;
    return {
      ...s,
      allowed: allowSet === undefined || allowSet.has(s.name),
      compatible: mountable && lacks.length === 0,
      missing: lacks,
    };
  });
  const kept = skills.filter((s) => s.allowed && s.compatible);
  return { skills, mounts: dedupe(mountsOf(kept)) };
}

function dedupe(mounts: Array<[string, string]>): Array<[string, string]> {
  const seen = new Set<string>();
  return mounts.filter(([, dest]) => (seen.has(dest) ? false : (seen.add(dest), true)));
}
