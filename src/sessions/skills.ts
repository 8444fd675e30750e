import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import type { ToolRuntime } from "../runtime/index.js";
import type { DataPaths } from "../store/paths.js";
import type { Sdk } from "./pi.js";
import { within, realOrSelf } from "../fs-paths.js";

/**
 * The skills a session can get, and only from the owner's places: `<data-dir>/skills` (pi's user
 * skills dir, the agent dir being the data dir) and the paths `<data-dir>/settings.json` lists
 * under `skills`. pi's other places are left out on purpose: `~/.pi` and `~/.agents/skills` are the
 * user's home, which the server never reads unasked (list them in settings.json to have them);
 * the project's `.pi/skills` and `.agents/skills` are the repository's, written by whoever wrote
 * the repo (and by the agent); and the `.agents/skills` of every ancestor directory pi walks
 * would take skills from shared places such as `/tmp/.agents`.
 */
export interface SkillEntry {
  name: string;
  description: string;
  source: "data-dir" | "settings";
  /** The skill's .md file, as pi names it in the prompt. */
  path: string;
  /** The directory the agent reads it (and its scripts) from. */
  baseDir: string;
  /** Commands it says it runs: `allowed-tools` Bash(cmd ...) entries and `metadata.commands`. */
  commands: string[];
}

const COMMAND = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** The `skills` entries of the server's settings.json, resolved as pi resolves them. */
function settingsSkillPaths(paths: DataPaths): string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(paths.root, "settings.json"), "utf8"));
  } catch {
    return [];
  }
  const list = (raw as { skills?: unknown } | null)?.skills;
  if (!Array.isArray(list)) return [];
  return list
    .filter((p): p is string => typeof p === "string" && p.trim() !== "")
    .map((p) => {
      const t = p.trim();
      if (t === "~") return homedir();
      if (t.startsWith("~/")) return join(homedir(), t.slice(2));
      return isAbsolute(t) ? t : resolve(paths.root, t);
    });
}

/** The commands a skill's frontmatter names (see SkillEntry.commands). */
export function declaredCommands(frontmatter: Record<string, unknown>): string[] {
  const found: string[] = [];
  const tools = frontmatter["allowed-tools"];
  const toolText = Array.isArray(tools) ? tools.join(" ") : typeof tools === "string" ? tools : "";
  for (const m of toolText.matchAll(/Bash\(([^)]*)\)/g)) {
    const first = (m[1] ?? "").trim().split(/[\s:]/)[0] ?? "";
    if (COMMAND.test(first)) found.push(first);
  }
  const meta = frontmatter.metadata;
  const listed = meta && typeof meta === "object" ? (meta as Record<string, unknown>).commands : undefined;
  const words = Array.isArray(listed)
    ? listed.map(String)
    : typeof listed === "string"
      ? listed.split(/[\s,]+/)
      : [];
  for (const w of words) if (COMMAND.test(w)) found.push(w);
  return [...new Set(found)];
}

/** Every skill in the owner's places; the first of a name wins, as in pi. */
export function discoverSkills(sdk: Sdk, paths: DataPaths): SkillEntry[] {
  const settings = settingsSkillPaths(paths);
  const { skills } = sdk.loadSkills({
    cwd: paths.root,
    agentDir: paths.root,
    skillPaths: [paths.skills, ...settings],
    includeDefaults: false,
  });
  const userDir = realOrSelf(paths.skills);
  return skills.map((s) => {
    let frontmatter: Record<string, unknown> = {};
    try {
      frontmatter = sdk.parseFrontmatter(readFileSync(s.filePath, "utf8")).frontmatter;
    } catch {
      // unreadable now: no commands to check
    }
    return {
      name: s.name,
      description: s.description,
      source: within(realOrSelf(s.filePath), userDir) ? "data-dir" : "settings",
      path: s.filePath,
      baseDir: s.baseDir,
      commands: declaredCommands(frontmatter),
    };
  });
}

/** Where the sandbox sees skills: the data dir is not there, so neither is `<data-dir>/skills`. */
export const SANDBOX_SKILLS_DIR = "/pi-skills";

export interface SkillMount {
  /** The skill directory's real path on the host. */
  source: string;
  /** Where the sandbox sees it. */
  target: string;
  /** The skill's file as the sandbox sees it: what the session's prompt names. */
  file: string;
}

/**
 * Where a skill's directory is mounted in the sandbox: its real path, read-only, under
 * SANDBOX_SKILLS_DIR. Nothing else of the data dir: a skill dir that is (or leads to) the data dir
 * itself, or anything in it other than skills/, HOME or an ancestor of it, is not mounted (and the
 * skill is left out).
 */
export function skillMount(skill: SkillEntry, paths: DataPaths): SkillMount | undefined {
  const real = realOrSelf(skill.baseDir);
  const data = realOrSelf(paths.root);
  const skillsDir = realOrSelf(paths.skills);
  if (within(data, real)) return undefined;
  if (within(real, data) && !within(real, skillsDir)) return undefined;
  if (real === "/" || within(homedir(), real)) return undefined;
  const target = join(SANDBOX_SKILLS_DIR, skill.name.replace(/[^A-Za-z0-9._-]/g, "_"));
  return { source: real, target, file: join(target, relative(skill.baseDir, skill.path)) };
}

/** Whether the skill's file is in the data dir, which no tool may read outside the sandbox's mounts. */
export function inDataDir(skill: SkillEntry, paths: DataPaths): boolean {
  return within(realOrSelf(skill.path), realOrSelf(paths.root));
}

/** The declared commands that are not on the PATH where `runtime` runs tools. */
export async function missingCommands(
  runtime: ToolRuntime,
  cwd: string,
  commands: string[],
): Promise<Set<string>> {
  const wanted = [...new Set(commands)].filter((c) => COMMAND.test(c));
  if (wanted.length === 0) return new Set();
  const chunks: Buffer[] = [];
  const script = `for c in ${wanted.map((c) => `'${c}'`).join(" ")}; do command -v -- "$c" >/dev/null 2>&1 || echo "$c"; done`;
  // A runtime that cannot run the check cannot run the skills either.
  const r = await runtime
    .exec(script, { cwd, onData: (d) => chunks.push(d), timeout: 30 })
    .catch(() => ({ exitCode: null }));
  if (r.exitCode !== 0) return new Set(wanted);
  return new Set(
    Buffer.concat(chunks)
      .toString("utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => wanted.includes(l)),
  );
}
