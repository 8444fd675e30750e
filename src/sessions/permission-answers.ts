import { addRule, type RuleAdminDeps, type RuleView } from "../policy/admin.js";
import type { Verdict } from "../policy/evaluate.js";
import type { PermissionOption } from "../protocol/permissions.js";

/** Marks the rules an allow_turn answer stores: they go when the run ends, or at the next start. */
export const TURN_RULE_NOTE = "allow_turn on ";

/** The longest message a user may give with an answer (the model reads it). */
export const MAX_ANSWER_MESSAGE = 2000;

/**
 * The rules an answer stores: allow_turn and allow_session for the session (the former only until
 * its run ends), allow_always / deny_always for the session's repo (global for a scratch session).
 */
export function rememberAnswer(
  deps: RuleAdminDeps,
  call: { requestId: string; sessionId: string; workspace: string | null; verdict: Verdict },
  decision: PermissionOption,
  by: string,
): RuleView[] {
  if (decision === "allow_once" || decision === "deny_once") return [];
  const scope =
    decision === "allow_session" || decision === "allow_turn"
      ? "session"
      : call.workspace
        ? "workspace"
        : "global";
  return call.verdict.remember.map((r) =>
    addRule(
      deps,
      {
        tool: r.tool,
        ...(r.match !== null && { match: r.match }),
        decision: decision === "deny_always" ? "deny" : "allow",
        scope,
        ...(scope === "session" && { sessionId: call.sessionId }),
        ...(scope === "workspace" && call.workspace && { workspace: call.workspace }),
        note:
          decision === "allow_turn"
            ? `${TURN_RULE_NOTE}${call.requestId}`
            : `${decision} on ${call.requestId}`,
      },
      by,
    ),
  );
}

/** What the model reads when the user denied a call, with the user's own words if they gave some. */
export function deniedReason(by: string, summary: string, message: string | undefined): string {
  const base = `The user (${by}) denied this tool call: ${summary}`;
  return message ? `${base}\nThe user says: ${message}` : base;
}
