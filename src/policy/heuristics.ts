import { basename, isAbsolute } from "node:path";
import { codeOf, interpreterScript } from "./interpreters.js";
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
export function bashHeuristic(seg: Segment): string | undefined {
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
  if (codeOf(seg.argv).some((code) => /push/i.test(code)))
    return `runs ${name} code that mentions push (it may push with git)`;
  if (name === "rm" && args.some((a) => /^-[A-Za-z]*[rR]/.test(a) || a === "--recursive"))
    return "removes recursively (rm -r)";
  if (name === "find" && args.includes("-delete")) return "deletes files (find -delete)";
  for (const [tool, sub] of PUBLISHERS) {
    if (name === basename(tool) && sub.every((s, i) => args.filter((a) => !a.startsWith("-"))[i] === s))
      return `publishes a package (${name} ${sub.join(" ")})`;
  }
  return undefined;
}

/** Where system programs live; a command named by any other path is a file someone may have written. */
const SYSTEM_PROGRAM = /^\/(usr|bin|sbin|lib\w*|opt|snap|nix|etc)\//;

/**
 * The script file a command runs (`bash x.sh`, `sh x`, `./x.sh`, `source x`, `python3 x.py`), or
 * undefined. Rules judge the command that starts a script, never the commands inside it.
 */
export function scriptFile(seg: Segment): string | undefined {
  const cmd = seg.argv[0];
  if (cmd?.value === undefined) return undefined;
  const name = basename(cmd.value);
  if (SHELLS.has(name) && seg.shellInput === "file")
    return seg.argv.slice(1).find((w) => !(w.value ?? "").startsWith("-"))?.text;
  if ((name === "source" || name === ".") && seg.argv[1]) return seg.argv[1].text;
  if (cmd.value.includes("/") && !(isAbsolute(cmd.value) && SYSTEM_PROGRAM.test(cmd.value))) return cmd.text;
  return interpreterScript(seg.argv)?.text;
}
