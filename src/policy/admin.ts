import { ProtocolError } from "../protocol/errors.js";
import type { RuleDecision, RuleRecord, RulesStore, RuleScope } from "../store/rules.js";
import type { SessionRecord } from "../store/sessions-index.js";
import { BUILTIN_RULES } from "./builtin.js";

/** A rule as clients see it; built-in hard-deny entries are listed alongside the stored ones. */
export type RuleView = RuleRecord & { builtIn: boolean };

export interface RuleAdminDeps {
  rules: RulesStore;
  sessions: { get(id: string): SessionRecord | undefined };
}

export interface NewRule {
  tool: string;
  match?: string;
  decision: RuleDecision;
  scope: RuleScope;
  sessionId?: string;
  workspace?: string;
  expiresAt?: number;
  note?: string;
}

const TOOL_NAME = /^(\*|[A-Za-z0-9_.:-]{1,64})$/;
const DECISIONS: readonly string[] = ["allow", "ask", "deny"];
const SCOPES: readonly string[] = ["session", "workspace", "global"];

export function builtinRuleViews(): RuleView[] {
  return BUILTIN_RULES.map((b) => ({
    id: b.id,
    tool: b.tool,
    match: b.description,
    decision: "deny",
    scope: "global",
    sessionId: null,
    workspace: null,
    expiresAt: null,
    createdAt: 0,
    createdBy: "pi-server",
    note: "built in; cannot be removed or overridden",
    builtIn: true,
  }));
}

const stored = (r: RuleRecord): RuleView => ({ ...r, builtIn: false });

/** Built-in entries, then stored rules; with a session, only those that apply to it. */
export function listRules(deps: RuleAdminDeps, filter: { sessionId?: string } = {}): RuleView[] {
  if (filter.sessionId === undefined) return [...builtinRuleViews(), ...deps.rules.list().map(stored)];
  const session = deps.sessions.get(filter.sessionId);
  if (!session) throw new ProtocolError("not_found", `no session ${filter.sessionId}`);
  const applicable = deps.rules.applicable(session.id, session.repoId);
  return [...builtinRuleViews(), ...applicable.sort((a, b) => a.createdAt - b.createdAt).map(stored)];
}

export function addRule(deps: RuleAdminDeps, input: NewRule, by: string, now = Date.now()): RuleView {
  if (!TOOL_NAME.test(input.tool))
    throw new ProtocolError(
      "invalid_request",
      `tool must be a tool name or "*", got ${JSON.stringify(input.tool)}`,
    );
  if (!DECISIONS.includes(input.decision))
    throw new ProtocolError("invalid_request", `decision must be allow, ask or deny`);
  if (!SCOPES.includes(input.scope))
    throw new ProtocolError("invalid_request", `scope must be session, workspace or global`);
  if (input.match !== undefined && (input.match.trim() === "" || input.match.length > 1000))
    throw new ProtocolError("invalid_request", "match must be 1 to 1000 characters");
  if (input.expiresAt !== undefined && input.expiresAt <= now)
    throw new ProtocolError("invalid_request", "expiresAt is in the past");
  const session = input.sessionId === undefined ? undefined : deps.sessions.get(input.sessionId);
  if (input.sessionId !== undefined && !session)
    throw new ProtocolError("not_found", `no session ${input.sessionId}`);
  let sessionId: string | null = null;
  let workspace: string | null = null;
  if (input.scope === "session") {
    if (!session) throw new ProtocolError("invalid_request", "scope session needs sessionId");
    sessionId = session.id;
  } else if (input.scope === "workspace") {
    workspace = input.workspace ?? session?.repoId ?? null;
    if (workspace === null)
      throw new ProtocolError(
        "invalid_request",
        session
          ? `session ${session.id} has no repo; use scope global or session`
          : "scope workspace needs workspace",
      );
  } else if (input.workspace !== undefined || input.sessionId !== undefined) {
    throw new ProtocolError("invalid_request", "scope global takes neither sessionId nor workspace");
  }
  const rule = deps.rules.add({
    tool: input.tool,
    match: input.match ?? null,
    decision: input.decision,
    scope: input.scope,
    sessionId,
    workspace,
    expiresAt: input.expiresAt ?? null,
    createdAt: now,
    createdBy: by,
    note: input.note ?? null,
  });
  return stored(rule);
}

export function removeRule(deps: RuleAdminDeps, id: string): RuleView {
  if (BUILTIN_RULES.some((b) => b.id === id))
    throw new ProtocolError("forbidden", `${id} is built in and cannot be removed`);
  const removed = deps.rules.remove(id);
  if (!removed) throw new ProtocolError("not_found", `no rule ${id}`);
  return stored(removed);
}
