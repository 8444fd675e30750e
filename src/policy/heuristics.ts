import { basename, isAbsolute, resolve } from "node:path";
import { physicalPath } from "./paths.js";
import type { Segment } from "./shell-analyze.js";
import { likely, type Word } from "./shell-words.js";

/**
 * Commands worth a question even when the profile would let them through. Every answer is `ask`;
 * a stored rule that matches first (allow or deny) takes precedence.
 */

const SHELLS = new Set(["bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash", "fish"]);
const INTERPRETERS = /^(python[\d.]*|pypy[\d.]*|node|nodejs|perl|ruby|php|lua[\d.]*|deno|bun)$/;
const CURL_UPLOAD =
  /^(-[A-Za-z]*[dFT].*|--data.*|--form.*|--upload-file(=.*)?|--json(=.*)?|--request=(POST|PUT|PATCH|DELETE)|-X(POST|PUT|PATCH|DELETE))$/;
const WGET_UPLOAD = /^--(post-data|post-file|method|body-data|body-file)(=.*)?$/;
const GIT_OPTS_WITH_VALUE = new Set([
  "-C",
  "-c",
  "--git-dir",
  "--work-tree",
  "--namespace",
  "--exec-path",
  "--config-env",
]);
const SAFE_WRITE_TARGETS = /^\/(dev\/(null|stdout|stderr|tty|fd\/\d+)\/|tmp\/|var\/tmp\/)/;
const PUBLISHERS: [string, string[]][] = [
  ["npm", ["publish"]],
  ["pnpm", ["publish"]],
  ["yarn", ["publish"]],
  ["yarn", ["npm", "publish"]],
  ["bun", ["publish"]],
  ["cargo", ["publish"]],
  ["twine", ["upload"]],
  ["gem", ["push"]],
  ["poetry", ["publish"]],
  ["flit", ["publish"]],
  ["uv", ["publish"]],
  ["hatch", ["publish"]],
  ["docker", ["push"]],
  ["podman", ["push"]],
  ["dotnet", ["nuget", "push"]],
  ["mvn", ["deploy"]],
  ["gradle", ["publish"]],
  ["./gradlew", ["publish"]],
  ["vsce", ["publish"]],
  ["ovsx", ["publish"]],
  ["gh", ["release", "create"]],
  ["gh", ["release", "upload"]],
];

const values = (ws: Word[]): string[] => ws.map(likely);

function gitSubcommand(args: Word[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]?.value;
    if (a === undefined) return undefined;
    if (GIT_OPTS_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}

function isUpload(name: string, args: string[]): boolean {
  if (name === "curl") {
    if (args.some((a) => CURL_UPLOAD.test(a))) return true;
    const x = args.findIndex((a) => a === "-X" || a === "--request");
    return x !== -1 && /^(POST|PUT|PATCH|DELETE)$/i.test(args[x + 1] ?? "");
  }
  if (name === "wget") return args.some((a) => WGET_UPLOAD.test(a));
  if (name === "http" || name === "https" || name === "xh")
    return /^(POST|PUT|PATCH|DELETE)$/i.test(args[0] ?? "");
  if (name === "rsync") return args.some((a) => /^[^/-][^/]*:|^rsync:\/\//.test(a));
  return name === "scp" || name === "sftp" || name === "ftp";
}

/** The reason to ask about one bash command, or undefined when nothing here is remarkable. */
export function bashHeuristic(seg: Segment, worktree: string): string | undefined {
  const cmd = seg.argv[0];
  if (!cmd) return undefined;
  if (cmd.value === undefined) return `the command name ${cmd.text} is only known when it runs`;
  const name = basename(cmd.value);
  const args = values(seg.argv.slice(1));
  if (seg.shellInput === "dynamic") return `runs a shell command (${seg.text}) only known when it runs`;
  if (SHELLS.has(name) && seg.shellInput === "stdin" && seg.pipedFrom) return `pipes into a shell (${name})`;
  if (SHELLS.has(name) && seg.shellInput === "file" && seg.argv.slice(1).some((w) => w.value === undefined))
    return `runs a script produced when the command runs`;
  if ((name === "source" || name === ".") && seg.argv[1]?.value === undefined)
    return "sources a script produced when the command runs";
  if (INTERPRETERS.test(name) && seg.pipedFrom && args.every((a) => a === "-" || a.startsWith("-")))
    return `pipes into an interpreter (${name})`;
  if (name === "nc" || name === "ncat" || name === "netcat" || name === "socat")
    return `opens a raw network connection (${name})`;
  if (isUpload(name, args)) return `uploads over the network (${name})`;
  if (name === "git" && gitSubcommand(seg.argv.slice(1)) === "push") return "pushes to a git remote";
  if (name === "rm" && args.some((a) => /^-[A-Za-z]*[rR]/.test(a) || a === "--recursive"))
    return "removes recursively (rm -r)";
  if (name === "find" && args.includes("-delete")) return "deletes files (find -delete)";
  for (const [tool, sub] of PUBLISHERS) {
    if (name === basename(tool) && sub.every((s, i) => args.filter((a) => !a.startsWith("-"))[i] === s))
      return `publishes a package (${name} ${sub.join(" ")})`;
  }
  for (const r of seg.redirects) {
    if (r.op === "<" || r.op.startsWith("<<") || !r.target) continue;
    const target = r.target.value;
    if (target === undefined) return `redirects output to a file named only when it runs (${r.target.text})`;
    if (/^&?\d*-?$/.test(target)) continue;
    const outside = (seg.cwds ?? [worktree]).some((c) =>
      outsideWorktree(isAbsolute(target) ? target : `${c}/${target}`, worktree),
    );
    if (outside) return `writes outside the session's worktree (${target})`;
  }
  return undefined;
}

/** True for a path outside the worktree that is not a scratch location (/tmp, /dev/null, …). */
export function outsideWorktree(abs: string, worktree: string): boolean {
  if (SAFE_WRITE_TARGETS.test(`${resolve(abs)}/`)) return false;
  const real = physicalPath(abs);
  const root = physicalPath(worktree);
  if (real === root || real.startsWith(`${root}/`)) return false;
  return !SAFE_WRITE_TARGETS.test(`${real}/`);
}
