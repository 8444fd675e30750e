import { relative } from "node:path";

export type RuleDecision = "allow" | "ask" | "deny";
export type RuleScope = "session" | "workspace" | "global";

/** What the evaluator needs of a stored rule. */
export interface PolicyRule {
  id: string;
  /** A tool name, or "*" for every tool. */
  tool: string;
  /** Command pattern (bash), path glob (file tools), or null for every call of the tool. */
  match: string | null;
  decision: RuleDecision;
  scope: RuleScope;
  createdAt: number;
  /** What its author wrote about it (`rules add --note`), shown with the decision it makes. */
  note?: string | null;
}

/** What a rule is matched against: one bash command, or one file tool call, or any other call. */
export type Subject =
  | {
      kind: "command";
      tool: string;
      text: string;
      fullText: string;
      /** The same operation spelled plainly (`git -c alias.p=push p` is `git push`), for deny and ask rules. */
      equivalents?: string[];
    }
  | { kind: "path"; tool: string; absolute: string; worktree: string }
  | { kind: "other"; tool: string; text: string };

const SCOPE_RANK: Record<RuleScope, number> = { global: 0, workspace: 1, session: 2 };
const DECISION_RANK: Record<RuleDecision, number> = { allow: 0, ask: 1, deny: 2 };
export const FILE_TOOLS = new Set(["read", "write", "edit", "ls", "grep", "find"]);

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Command patterns: `*` is any run of characters, `?` one; a trailing ` *` also matches nothing,
 * so `git push *` covers `git push` itself.
 */
export function commandPatternMatches(pattern: string, text: string): boolean {
  let re = "";
  const trailing = pattern.endsWith(" *");
  const body = trailing ? pattern.slice(0, -2) : pattern;
  for (const c of body) re += c === "*" ? ".*" : c === "?" ? "." : escapeRe(c);
  if (trailing) re += "(?: .*)?";
  return new RegExp(`^${re}$`, "s").test(text);
}

/** Path globs: `**` crosses directories, `*` and `?` do not. */
export function pathGlobMatches(glob: string, path: string): boolean {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*" && glob[i + 1] === "*") {
      i++;
      if (glob[i + 1] === "/") {
        i++;
        re += "(?:.*/)?";
      } else re += ".*";
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, "s").test(path);
}

function matches(rule: PolicyRule, subject: Subject, home: string): boolean {
  if (rule.tool !== "*" && rule.tool !== subject.tool) return false;
  if (rule.match === null) return true;
  if (subject.kind === "command") {
    if (commandPatternMatches(rule.match, subject.fullText)) return true;
    // A deny or ask rule also catches the command behind wrappers and env assignments; an allow
    // rule has to match what was written, so `allow git status *` does not allow `LD_PRELOAD=… git status`.
    if (rule.decision === "allow") return false;
    const pattern = rule.match;
    return [subject.text, ...(subject.equivalents ?? [])].some((t) => commandPatternMatches(pattern, t));
  }
  if (subject.kind === "path") {
    const glob = rule.match.startsWith("~/") ? home + rule.match.slice(1) : rule.match;
    if (glob.startsWith("/")) return pathGlobMatches(glob, subject.absolute);
    const rel = relative(subject.worktree, subject.absolute);
    if (rel.startsWith("..") || rel.startsWith("/")) return false;
    return pathGlobMatches(glob, rel === "" ? "." : rel);
  }
  return commandPatternMatches(rule.match, subject.text);
}

/** Higher is more specific: a named tool, a pattern, more literal characters, a narrower scope. */
export function specificity(rule: PolicyRule): number[] {
  const literal = rule.match === null ? -1 : rule.match.replace(/[*?]/g, "").length;
  const exact = rule.match !== null && !/[*?]/.test(rule.match) ? 1 : 0;
  return [rule.tool === "*" ? 0 : 1, literal, exact, SCOPE_RANK[rule.scope]];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The rule that decides: any matching deny wins outright; otherwise the most specific matching rule,
 * ask before allow when equally specific, newer before older.
 */
export function decidingRule<R extends PolicyRule>(
  rules: R[],
  subject: Subject,
  home: string,
): R | undefined {
  const hits = rules.filter((r) => matches(r, subject, home));
  const denies = hits.filter((r) => r.decision === "deny");
  const pool = denies.length > 0 ? denies : hits;
  return pool.sort(
    (a, b) =>
      compare(specificity(b), specificity(a)) ||
      DECISION_RANK[b.decision] - DECISION_RANK[a.decision] ||
      b.createdAt - a.createdAt,
  )[0];
}

/**
 * The pattern an "always"/"session" answer stores for a bash command: the command and its
 * subcommand (`git push *`, `npm publish *`), or the exact command when it has no subcommand.
 */
export function commandPatternFor(argv: string[], fullText: string): string {
  const [cmd, sub] = argv;
  if (cmd !== undefined && sub !== undefined && /^[a-z][a-z0-9-]*$/.test(sub) && fullText === argv.join(" "))
    return `${cmd} ${sub} *`;
  return fullText.replace(/[*?]/g, "?");
}

/** The path glob an "always"/"session" answer stores for a file tool: the file itself. */
export function pathPatternFor(absolute: string, worktree: string): string {
  const rel = relative(worktree, absolute);
  const path = rel === "" ? "." : rel.startsWith("..") || rel.startsWith("/") ? absolute : rel;
  return path.replace(/[*?]/g, "?");
}
