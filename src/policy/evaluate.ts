import { isAbsolute } from "node:path";
import { evaluateBash } from "./evaluate-bash.js";
import { checkPath } from "./hard-deny.js";
import { physicalPath } from "./paths.js";
import { FILE_TOOLS, pathPatternFor } from "./rules.js";
import { byRule, clip, combine, type EvalContext, fallback, READ_TOOLS, type Verdict } from "./verdict.js";
import { outsideWorktree } from "./writes.js";

export type { Decision, EvalContext, Layer, Profile, Remembered, Verdict } from "./verdict.js";

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
  if (
    access === "write" &&
    outsideWorktree(abs, { worktree: ctx.worktree, home: ctx.home, repos: ctx.repos })
  ) {
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
