import { checkBash } from "./hard-deny.js";
import { GitLine } from "./git.js";
import { bashHeuristic, scriptFile } from "./heuristics.js";
import { physicalPath } from "./paths.js";
import { commandPatternFor, type PolicyRule, type Subject } from "./rules.js";
import type { Segment } from "./shell-analyze.js";
import {
  byRule,
  clip,
  combine,
  type EvalContext,
  fallback,
  type Judgement,
  type Part,
  strictest,
  type Verdict,
} from "./verdict.js";
import { fileAccesses, outsideWorktree, pathsOf, redirectWrites, type WriteScope } from "./writes.js";

const ask = (reason: string): Judgement => ({ decision: "ask", layer: "heuristic", ruleId: null, reason });

/** An owner's deny rule for bash (or every tool): running a script file would step around it. */
function hasBashDeny(rules: PolicyRule[]): boolean {
  return rules.some((r) => r.decision === "deny" && (r.tool === "bash" || r.tool === "*"));
}

interface FileJudgement {
  /** Verdicts of file rules on the paths the command reads or writes. */
  ruled: Judgement[];
  /** Why to ask about writes no rule speaks for. */
  unruled: string[];
}

/**
 * The files a command reads and writes, judged as pi's `read` and `write` tools would be: the
 * session's file rules apply, and a write outside the worktree asks.
 */
function judgeFiles(seg: Segment, ctx: EvalContext, scope: WriteScope): FileJudgement {
  const out: FileJudgement = { ruled: [], unruled: [] };
  const accesses = [
    ...(fileAccesses(seg) ?? []),
    ...redirectWrites(seg).map((word) => ({ word, access: "write" as const })),
  ];
  const worktree = physicalPath(ctx.worktree);
  for (const { word, access } of accesses.slice(0, 200)) {
    const paths = pathsOf(word, seg.cwds);
    if (!paths) {
      if (access === "write") out.unruled.push(`writes to a file named only when it runs (${word.text})`);
      continue;
    }
    for (const abs of paths) {
      const subject: Subject = { kind: "path", tool: access, absolute: physicalPath(abs), worktree };
      const ruled = byRule(ctx.rules, subject, ctx.home);
      if (ruled) out.ruled.push(ruled);
      else if (access === "write" && outsideWorktree(abs, scope))
        out.unruled.push(`writes outside the session's worktree (${word.text})`);
    }
  }
  return out;
}

function judgeSegment(seg: Segment, ctx: EvalContext, scope: WriteScope, git: GitLine): Judgement {
  const gitJudgement = git.judge(seg);
  const subject: Subject = {
    kind: "command",
    tool: "bash",
    text: seg.text,
    fullText: seg.fullText,
    equivalents: gitJudgement?.equivalents ?? [],
  };
  const command = byRule(ctx.rules, subject, ctx.home);
  const files = judgeFiles(seg, ctx, scope);
  const denied = [command, ...files.ruled].find((j) => j?.decision === "deny");
  if (denied) return denied;
  const fileAsk = strictest(files.ruled.filter((j) => j.decision === "ask"));
  // A rule for the command is the owner's word on it; a file rule that asks still asks.
  if (command) return strictest([command, ...(fileAsk ? [fileAsk] : [])]) ?? command;
  if (fileAsk) return fileAsk;
  const script = hasBashDeny(ctx.rules) ? scriptFile(seg) : undefined;
  const reasons = [
    bashHeuristic(seg),
    gitJudgement?.reason,
    ...files.unruled,
    script &&
      `runs the script ${script}, whose commands no rule can see (an owner's deny rule would not catch them)`,
  ].filter((r): r is string => r !== undefined && r !== "");
  if (reasons.length > 0) return ask([...new Set(reasons)].join("; "));
  return fallback("bash", ctx.profile, `running ${clip(seg.text) || "a command"}`);
}

export function evaluateBash(command: string, ctx: EvalContext, summary: string): Verdict {
  const check = checkBash(command, ctx);
  if (check.deny) {
    return {
      decision: "deny",
      layer: "builtin",
      ruleId: check.deny.rule,
      reason: check.deny.reason,
      summary,
      remember: [],
    };
  }
  const scope: WriteScope = { worktree: ctx.worktree, home: ctx.home, repos: ctx.repos };
  const git = new GitLine(scope);
  const parts: Part[] = check.analysis.segments.map((seg) => ({
    ...judgeSegment(seg, ctx, scope, git),
    remember: {
      tool: "bash",
      match: commandPatternFor(
        seg.argv.map((w) => w.text),
        seg.fullText,
      ),
    },
  }));
  const doubts = [
    ...check.uncertain,
    ...check.analysis.issues.map((i) => `could not fully read the command: ${i}`),
  ];
  const allRuled = parts.length > 0 && parts.every((p) => p.layer === "rule" && p.decision === "allow");
  if (doubts.length > 0 && !allRuled) {
    parts.push({
      decision: "ask",
      layer: "heuristic",
      ruleId: null,
      reason: doubts.join("; "),
      remember: { tool: "bash", match: command.replace(/[*?]/g, "?") },
    });
  }
  return combine(parts, summary);
}
