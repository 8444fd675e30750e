import type { HardDenyContext } from "./hard-deny.js";
import { decidingRule, type PolicyRule, type RuleDecision, type Subject } from "./rules.js";

export type Decision = RuleDecision;
export type Layer = "builtin" | "rule" | "heuristic" | "profile";
export type Profile = "tailscale-permissive" | "strict";

export interface EvalContext extends HardDenyContext {
  profile: Profile;
  /** Rules that apply to this session and have not expired. */
  rules: PolicyRule[];
  /**
   * Paths of the registered repositories — the user's own checkouts. Writing there is never scratch
   * work, even when they live under /tmp.
   */
  repos: readonly string[];
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

/** The answer for one part of a call: one command of a bash line, or the file of a file tool. */
export interface Part {
  decision: Decision;
  layer: Layer;
  ruleId: string | null;
  reason: string;
  remember: Remembered;
}

export type Judgement = Omit<Part, "remember">;

export const READ_TOOLS = new Set(["read", "ls", "grep", "find"]);
export const RANK: Record<Decision, number> = { allow: 0, ask: 1, deny: 2 };
const MAX_SUMMARY = 300;

export function clip(s: string): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > MAX_SUMMARY ? `${one.slice(0, MAX_SUMMARY - 1)}…` : one;
}

export function fallback(tool: string, profile: Profile, shown: string): Judgement {
  if (profile === "strict" && !READ_TOOLS.has(tool))
    return {
      decision: "ask",
      layer: "profile",
      ruleId: null,
      reason: `the strict profile asks before ${shown}`,
    };
  return { decision: "allow", layer: "profile", ruleId: null, reason: `allowed by the ${profile} profile` };
}

export function byRule(rules: PolicyRule[], subject: Subject, home: string): Judgement | undefined {
  const rule = decidingRule(rules, subject, home);
  if (!rule) return undefined;
  return {
    decision: rule.decision,
    layer: "rule",
    ruleId: rule.id,
    reason: ruleReason(rule),
  };
}

const VERB = { allow: "allows", ask: "asks before", deny: "denies" } as const;
const WHERE = { session: "this session's", workspace: "this workspace's", global: "a" } as const;

/**
 * Which rule decided, in words a person on a phone reads: `A rule asks before write docs/** (its
 * note)`. One sentence; the rule's id stays in the verdict's ruleId, out of the text.
 */
function ruleReason(rule: PolicyRule): string {
  const what =
    rule.tool === "*"
      ? "every tool call"
      : rule.match
        ? `${rule.tool} ${rule.match}`
        : `every ${rule.tool} call`;
  const note = rule.note ? ` (${rule.note})` : "";
  const text = `${WHERE[rule.scope]} rule ${VERB[rule.decision]} ${what}${note}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The strictest of several judgements (deny over ask over allow); the first among equals. */
export function strictest<J extends Judgement>(js: J[]): J | undefined {
  let top: J | undefined;
  for (const j of js) if (!top || RANK[j.decision] > RANK[top.decision]) top = j;
  return top;
}

export function combine(parts: Part[], summary: string): Verdict {
  const top = strictest(parts);
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
