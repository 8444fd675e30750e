import { isAbsolute } from "node:path";
import { checkBash, checkPath, type HardDenyContext } from "./hard-deny.js";
import { bashHeuristic, outsideWorktree } from "./heuristics.js";
import { physicalPath } from "./paths.js";
import {
  commandPatternFor,
  decidingRule,
  FILE_TOOLS,
  pathPatternFor,
  type PolicyRule,
  type RuleDecision,
  type Subject,
} from "./rules.js";

export type Decision = RuleDecision;
export type Layer = "builtin" | "rule" | "heuristic" | "profile";
export type Profile = "tailscale-permissive" | "strict";

export interface EvalContext extends HardDenyContext {
  profile: Profile;
  /** Rules that apply to this session and have not expired. */
  rules: PolicyRule[];
}

export interface Remembered {
  tool: string;
  match: string | null;
}

export interface Verdict {
  decision: Decision;
  layer: Layer;
  ruleId: string | null;
  reason: string;
  /** One line for people: the command, or the tool and its path. */
  summary: string;
  /** What an allow_session/allow_always/deny_always answer stores: one pattern per part that asked. */
  remember: Remembered[];
}

interface Part {
  decision: Decision;
  layer: Layer;
  ruleId: string | null;
  reason: string;
  remember: Remembered;
}

const READ_TOOLS = new Set(["read", "ls", "grep", "find"]);
const RANK: Record<Decision, number> = { allow: 0, ask: 1, deny: 2 };
const MAX_SUMMARY = 300;

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > MAX_SUMMARY ? `${one.slice(0, MAX_SUMMARY - 1)}…` : one;
}

export function summarize(tool: string, input: Record<string, unknown>): string {
  if (tool === "bash" && typeof input.command === "string") return clip(input.command);
  const path = typeof input.path === "string" ? input.path : undefined;
  if (tool === "write" && path !== undefined && typeof input.content === "string")
    return clip(`write ${path} (${Buffer.byteLength(input.content)} bytes)`);
  if (tool === "edit" && path !== undefined && Array.isArray(input.edits))
    return clip(`edit ${path} (${input.edits.length} replacement${input.edits.length === 1 ? "" : "s"})`);
  if (path !== undefined) return clip(`${tool} ${path}`);
  return clip(`${tool} ${JSON.stringify(input)}`);
}

/** pi's own reading of a tool path: `@` prefix dropped, unusual spaces normalised, `~` expanded. */
export function toolPath(raw: string, cwd: string, home: string): string {
  let p = raw.startsWith("@") ? raw.slice(1) : raw;
  p = p.replace(/[\u00A0\u2000-\u200A\u202F\u205F\u3000]/g, " ");
  if (p === "~") p = home;
  else if (p.startsWith("~/")) p = home + p.slice(1);
  return isAbsolute(p) ? p : `${cwd}/${p}`;
}

function fallback(tool: string, profile: Profile, shown: string): Omit<Part, "remember"> {
  if (profile === "strict" && !READ_TOOLS.has(tool))
    return {
      decision: "ask",
      layer: "profile",
      ruleId: null,
      reason: `the strict profile asks before ${shown}`,
    };
  return { decision: "allow", layer: "profile", ruleId: null, reason: `allowed by the ${profile} profile` };
}

function byRule(rules: PolicyRule[], subject: Subject, home: string): Omit<Part, "remember"> | undefined {
  const rule = decidingRule(rules, subject, home);
  if (!rule) return undefined;
  return {
    decision: rule.decision,
    layer: "rule",
    ruleId: rule.id,
    reason: `rule ${rule.id} says ${rule.decision}`,
  };
}

function combine(parts: Part[], summary: string): Verdict {
  let top: Part | undefined;
  for (const p of parts) if (!top || RANK[p.decision] > RANK[top.decision]) top = p;
  if (!top)
    return {
      decision: "allow",
      layer: "profile",
      ruleId: null,
      reason: "nothing to run",
      summary,
      remember: [],
    };
  const same = parts.filter((p) => p.decision === top.decision);
  const reason = top.decision === "ask" ? [...new Set(same.map((p) => p.reason))].join("; ") : top.reason;
  const remember = top.decision === "ask" ? same.map((p) => p.remember) : [];
  const unique = [...new Map(remember.map((r) => [`${r.tool}\0${r.match}`, r])).values()];
  return { decision: top.decision, layer: top.layer, ruleId: top.ruleId, reason, summary, remember: unique };
}

function evaluateBash(command: string, ctx: EvalContext, summary: string): Verdict {
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
  const parts: Part[] = check.analysis.segments.map((seg) => {
    const remember = {
      tool: "bash",
      match: commandPatternFor(
        seg.argv.map((w) => w.text),
        seg.fullText,
      ),
    };
    const subject: Subject = { kind: "command", tool: "bash", text: seg.text, fullText: seg.fullText };
    const ruled = byRule(ctx.rules, subject, ctx.home);
    if (ruled) return { ...ruled, remember };
    const heuristic = bashHeuristic(seg, ctx.worktree);
    if (heuristic) return { decision: "ask", layer: "heuristic", ruleId: null, reason: heuristic, remember };
    return { ...fallback("bash", ctx.profile, `running ${clip(seg.text) || "a command"}`), remember };
  });
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

function evaluateFile(
  tool: string,
  input: Record<string, unknown>,
  ctx: EvalContext,
  summary: string,
): Verdict {
  const raw = typeof input.path === "string" ? input.path : ".";
  const abs = toolPath(raw, ctx.cwd, ctx.home);
  const access = READ_TOOLS.has(tool) ? "read" : "write";
  const variants = access === "read" ? [abs, abs.normalize("NFD"), abs.replace(/'/g, "\u2019")] : [abs];
  for (const v of new Set(variants)) {
    const deny = checkPath(v, access, ctx);
    if (deny)
      return {
        decision: "deny",
        layer: "builtin",
        ruleId: deny.rule,
        reason: deny.reason,
        summary,
        remember: [],
      };
  }
  const physical = physicalPath(abs);
  const worktree = physicalPath(ctx.worktree);
  const remember = { tool, match: pathPatternFor(physical, worktree) };
  const ruled = byRule(ctx.rules, { kind: "path", tool, absolute: physical, worktree }, ctx.home);
  if (ruled) return combine([{ ...ruled, remember }], summary);
  if (access === "write" && outsideWorktree(abs, ctx.worktree)) {
    const reason = `writes outside the session's worktree (${raw})`;
    return combine([{ decision: "ask", layer: "heuristic", ruleId: null, reason, remember }], summary);
  }
  return combine([{ ...fallback(tool, ctx.profile, `${tool} ${raw}`), remember }], summary);
}

/** The policy's answer for one tool call: hard deny, then rules, then heuristics, then the profile. */
export function evaluate(tool: string, input: Record<string, unknown>, ctx: EvalContext): Verdict {
  const summary = summarize(tool, input);
  if (tool === "bash")
    return evaluateBash(typeof input.command === "string" ? input.command : "", ctx, summary);
  if (FILE_TOOLS.has(tool)) return evaluateFile(tool, input, ctx, summary);
  const remember = { tool, match: null };
  const ruled = byRule(ctx.rules, { kind: "other", tool, text: JSON.stringify(input) }, ctx.home);
  return combine([{ ...(ruled ?? fallback(tool, ctx.profile, `using ${tool}`)), remember }], summary);
}
