import { basename, resolve } from "node:path";
import type { Segment } from "./shell-analyze.js";
import { likely, type Word } from "./shell-words.js";
import { outsideWorktree, type WriteScope } from "./writes.js";

/**
 * How git is really invoked: global options stripped, `-C`/`--git-dir` followed, `-c` and
 * `GIT_CONFIG_*` read, aliases resolved where the line defines them. Spellings of one operation
 * (`git -C . push`, `git -c alias.p=push p`, `git send-pack`) are judged, and matched by rules, as
 * that operation.
 */

/** git's own commands (`git help -a`) and `lfs`; any other name can only be an alias or a `git-*` on PATH. */
const BUILTINS = new Set(
  `add am annotate apply archive bisect blame branch bugreport bundle cat-file check-attr check-ignore
  check-mailmap check-ref-format checkout checkout-index cherry cherry-pick citool clean clone column
  commit commit-graph commit-tree config count-objects credential credential-cache credential-store
  daemon describe diagnose diff diff-files diff-index diff-tree difftool fast-export fast-import fetch
  fetch-pack filter-branch fmt-merge-msg for-each-ref for-each-repo format-patch fsck gc
  get-tar-commit-id grep gui hash-object help hook http-backend http-fetch http-push imap-send
  index-pack init instaweb interpret-trailers log ls-files ls-remote ls-tree mailinfo mailsplit
  maintenance merge merge-base merge-file merge-index merge-one-file merge-tree mergetool mktag mktree
  multi-pack-index mv name-rev notes pack-objects pack-redundant pack-refs patch-id prune prune-packed
  pull push range-diff read-tree rebase reflog refs remote repack replace replay request-pull rerere
  reset restore rev-list rev-parse revert rm send-email send-pack shortlog show show-branch show-index
  show-ref sparse-checkout stage stash status stripspace submodule switch symbolic-ref tag
  unpack-file unpack-objects update-index update-ref update-server-info upload-archive upload-pack var
  verify-commit verify-pack verify-tag version whatchanged worktree write-tree lfs`.split(/\s+/),
);
/** Commands that only look: fine to run in a repository outside the worktree. */
const READ_ONLY = new Set(
  `status log diff show blame annotate grep describe rev-parse rev-list ls-files ls-tree ls-remote
  cat-file show-ref for-each-ref name-rev shortlog whatchanged diff-tree diff-files diff-index
  merge-base cherry count-objects check-ignore check-attr check-mailmap var version help show-branch
  range-diff verify-commit verify-tag`.split(/\s+/),
);
/** Commands that send refs to another repository, as `git push` does. */
const PUSHES = new Set(["push", "send-pack", "http-push"]);
/** `-c` keys that change nothing git runs or sends: safe on any command line. */
const SAFE_CONFIG =
  /^(user|author|committer|color|advice|log|init\.defaultbranch|commit\.gpgsign|tag\.gpgsign|core\.quotepath|core\.autocrlf|core\.safecrlf|pull\.rebase|pull\.ff|merge\.conflictstyle|rerere\.enabled|gc\.auto|maintenance\.auto)(\.|$)/i;
/** Environment variables that change what git runs or which configuration it reads. */
const GIT_ENV =
  /^GIT_(CONFIG\w*|EXEC_PATH|SSH|SSH_COMMAND|ASKPASS|EDITOR|SEQUENCE_EDITOR|PAGER|EXTERNAL_DIFF|PROXY_COMMAND|TEMPLATE_DIR)$/;
const WITH_VALUE = new Set(["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env"]);
const CONFIG_WRITES = new Set([
  "--add",
  "--replace-all",
  "--unset",
  "--unset-all",
  "--rename-section",
  "--remove-section",
  "-e",
  "--edit",
]);
const CONFIG_READS = new Set([
  "--get",
  "--get-all",
  "--get-regexp",
  "--get-urlmatch",
  "--get-color",
  "-l",
  "--list",
]);
const CONFIG_OPT_VALUE = new Set(["-f", "--file", "--blob", "--type", "--default", "--comment", "--value"]);

export interface GitCall {
  /** The subcommand as written (an alias name, possibly). */
  sub: string | undefined;
  args: Word[];
  config: { key: string; value: string }[];
  /** `--exec-path=DIR`: git runs its subcommands from DIR. */
  execPath: boolean;
  /** Environment assignments that change what git runs. */
  env: string[];
  /** Repositories it works on (from the cwd, `-C`, `--git-dir`, `--work-tree`, `GIT_DIR`); undefined if unknown. */
  repos: string[] | undefined;
}

function resolveAll(dirs: string[] | undefined, w: Word | undefined): string[] | undefined {
  if (!dirs || w?.value === undefined) return undefined;
  const v = w.value;
  return dirs.map((d) => resolve(d, v));
}

/** Reads a `git` command line; undefined when the segment is not git. */
export function parseGit(seg: Segment): GitCall | undefined {
  const cmd = seg.argv[0];
  if (cmd?.value === undefined || basename(cmd.value) !== "git") return undefined;
  const call: GitCall = { sub: undefined, args: [], config: [], execPath: false, env: [], repos: undefined };
  let cwds = seg.cwds;
  const extra: (string[] | undefined)[] = [];
  const env = new Map(seg.assigns.map((a) => [a.name, a.value]));
  for (const name of env.keys()) if (GIT_ENV.test(name)) call.env.push(name);
  for (const n of ["GIT_DIR", "GIT_WORK_TREE"]) if (env.has(n)) extra.push(resolveAll(cwds, env.get(n)));
  const count = Number(env.get("GIT_CONFIG_COUNT")?.value ?? 0);
  for (let i = 0; i < Math.min(count, 64); i++) {
    const key = env.get(`GIT_CONFIG_KEY_${i}`)?.value;
    if (key !== undefined) call.config.push({ key, value: env.get(`GIT_CONFIG_VALUE_${i}`)?.value ?? "" });
  }
  const args = seg.argv.slice(1);
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i] as Word;
    const a = likely(w);
    if (!a.startsWith("-")) break;
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq !== -1 ? a.slice(0, eq) : a;
    const value: Word | undefined =
      name !== a
        ? { ...w, value: a.slice(eq + 1), text: a.slice(eq + 1) }
        : WITH_VALUE.has(a)
          ? args[++i]
          : undefined;
    if (name === "-C") cwds = resolveAll(cwds, value);
    else if (name === "--git-dir" || name === "--work-tree") extra.push(resolveAll(cwds, value));
    else if (name === "--exec-path" && value) call.execPath = true;
    else if (name === "-c" || name === "--config-env") {
      const v = value ? likely(value) : "";
      const e = v.indexOf("=");
      call.config.push({ key: e === -1 ? v : v.slice(0, e), value: e === -1 ? "true" : v.slice(e + 1) });
    }
  }
  // `git git status` (a doubled word, brace-expanded or typed) is judged as what follows it.
  while (likely(args[i]) === "git" && i + 1 < args.length) i++;
  call.sub = args[i] === undefined ? undefined : likely(args[i]);
  call.args = args.slice(i + 1);
  const all = [cwds, ...extra];
  call.repos = all.some((d) => d === undefined) ? undefined : [...new Set(all.flat() as string[])];
  return call;
}

/** Whether `git config …` changes configuration (reading it is harmless). */
export function configWrites(args: Word[]): boolean {
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = likely(args[i]);
    const name = a.startsWith("--") && a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    if (CONFIG_WRITES.has(name)) return true;
    if (CONFIG_READS.has(name)) return false;
    if (CONFIG_OPT_VALUE.has(a)) i++;
    else if (!a.startsWith("-")) operands.push(a);
  }
  const [first] = operands;
  if (first === "get" || first === "list") return false;
  if (["set", "unset", "rename-section", "remove-section", "edit"].includes(first ?? "")) return true;
  return operands.length >= 2;
}

/** The key and value a `git config` write sets, for following aliases defined on the same line. */
function configSet(args: Word[]): { key: string; value: string } | undefined {
  const operands = args.map(likely).filter((a) => !a.startsWith("-"));
  if (operands[0] === "set") operands.shift();
  const [key, value] = operands;
  return key !== undefined && value !== undefined && operands.length === 2 ? { key, value } : undefined;
}

export interface GitJudgement {
  /** Why to ask; undefined when nothing is remarkable. */
  reason?: string;
  /** The command as the operation it performs (`git push …`), for deny and ask rules to match. */
  equivalents: string[];
}

const words = (ws: Word[]): string => ws.map((w) => w.text).join(" ");
const join = (...parts: string[]): string => parts.filter((p) => p !== "").join(" ");

/** Judges the git commands of one command line in order, so aliases set earlier are known later. */
export class GitLine {
  private readonly aliases = new Map<string, string>();

  constructor(private readonly scope: WriteScope) {}

  judge(seg: Segment): GitJudgement | undefined {
    const call = parseGit(seg);
    if (!call) return undefined;
    const sub = call.sub;
    const rest = words(call.args);
    const aliases = new Map(this.aliases);
    for (const c of call.config) {
      const m = /^alias\.(.+)$/i.exec(c.key);
      if (m) aliases.set(m[1] as string, c.value);
    }
    const equivalents = sub === undefined ? [] : [join("git", sub, rest)];
    const alias = sub === undefined || BUILTINS.has(sub) ? undefined : aliases.get(sub);
    let op = sub;
    if (alias !== undefined) {
      if (alias.startsWith("!")) equivalents.push(join(alias.slice(1).trim(), rest));
      else {
        equivalents.push(join("git", alias, rest));
        op = alias.trim().split(/\s+/)[0];
      }
    }
    if (op !== undefined && PUSHES.has(op)) equivalents.push(join("git push", rest));
    if (sub === "config" && configWrites(call.args)) {
      const set = configSet(call.args);
      const m = set && /^alias\.(.+)$/i.exec(set.key);
      if (m && set) this.aliases.set(m[1] as string, set.value);
    }
    const reason = this.reason(call, op, alias);
    return { ...(reason && { reason }), equivalents: [...new Set(equivalents)] };
  }

  private reason(call: GitCall, op: string | undefined, alias: string | undefined): string | undefined {
    const sub = call.sub;
    if (call.execPath) return "runs git with another --exec-path";
    if (call.env.length > 0) return `sets ${call.env.join(", ")}, which changes what git runs`;
    const risky = call.config.find((c) => !SAFE_CONFIG.test(c.key));
    if (risky) return `sets git configuration on the command line (-c ${risky.key})`;
    if (sub === undefined) return undefined;
    if (op !== undefined && PUSHES.has(op))
      return alias === undefined
        ? `pushes to a git remote (git ${sub})`
        : `pushes through the git alias ${sub}`;
    if (sub === "receive-pack") return "updates a repository's refs as a push would (git receive-pack)";
    if (!BUILTINS.has(sub))
      return alias === undefined
        ? `git ${sub} is not a git command: it may be an alias from git's configuration`
        : `runs the git alias ${sub} (${alias})`;
    if (sub === "config" && configWrites(call.args)) return "changes git configuration (git config)";
    if (sub === "update-ref") return "rewrites a git ref directly (git update-ref)";
    if (sub === "symbolic-ref" && call.args.filter((w) => !likely(w).startsWith("-")).length !== 1)
      return "rewrites a git ref directly (git symbolic-ref)";
    if (sub === "credential" || sub.startsWith("credential-")) return "reads stored git credentials";
    if (!call.repos)
      return READ_ONLY.has(sub) ? undefined : `runs git ${sub} in a repository only known when it runs`;
    const elsewhere = call.repos.find((r) => outsideWorktree(r, this.scope));
    if (elsewhere !== undefined && !READ_ONLY.has(sub))
      return `runs git ${sub} in a repository outside the session's worktree (${elsewhere})`;
    if (sub === "fetch" || sub === "pull") {
      const from = this.localRemote(call);
      if (from) return `git ${sub} from a path outside the session's worktree (${from})`;
    }
    return undefined;
  }

  /** The remote of a fetch or pull when it is a local path outside the worktree. */
  private localRemote(call: GitCall): string | undefined {
    const remote = call.args.find((w) => !likely(w).startsWith("-"));
    const v = remote && likely(remote).replace(/^file:\/\//, "");
    if (!v || !/^(\/|\.\.?(\/|$)|~)/.test(v)) return undefined;
    const abs = (call.repos ?? [this.scope.worktree]).map((d) => resolve(d, v));
    return abs.find((a) => outsideWorktree(a, this.scope));
  }
}
