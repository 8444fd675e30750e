import { Type, type Static, type TSchema } from "typebox";

/** What a client may answer to a permission request. */
export const PermissionOption = Type.Union([
  Type.Literal("allow_once"),
  /** This call, and calls like it for the rest of the run (until agent_end). */
  Type.Literal("allow_turn"),
  Type.Literal("allow_session"),
  Type.Literal("allow_always"),
  Type.Literal("deny_once"),
  Type.Literal("deny_always"),
]);
export type PermissionOption = Static<typeof PermissionOption>;

/** How a permission request ended: an answer, or expiry / cancellation by the server. */
export const PermissionOutcome = Type.Union([
  PermissionOption,
  Type.Literal("expired"),
  Type.Literal("cancelled"),
]);
export type PermissionOutcome = Static<typeof PermissionOutcome>;

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const RuleDecision = Type.Union([Type.Literal("allow"), Type.Literal("ask"), Type.Literal("deny")]);
export type RuleDecision = Static<typeof RuleDecision>;

export const RuleScope = Type.Union([
  Type.Literal("session"),
  Type.Literal("workspace"),
  Type.Literal("global"),
]);
export type RuleScope = Static<typeof RuleScope>;

export const Rule = Type.Object({
  id: Type.String(),
  /** A tool name (`bash`, `write`, …) or `*`. */
  tool: Type.String(),
  /** bash: command pattern (`git push *`); file tools: path glob (`src/**`); null: every call. */
  match: Nullable(Type.String()),
  decision: RuleDecision,
  scope: RuleScope,
  sessionId: Nullable(Type.String()),
  /** Repo id the rule is limited to (scope "workspace"). */
  workspace: Nullable(Type.String()),
  expiresAt: Nullable(Type.Integer()),
  createdAt: Type.Integer(),
  createdBy: Type.String(),
  note: Nullable(Type.String()),
  /** Built-in hard-deny entry: listed for reference, cannot be removed or overridden. */
  builtIn: Type.Boolean(),
});
export type Rule = Static<typeof Rule>;

/** A string of the tool's arguments shortened in `input`; permission.get returns it whole. */
export const ClippedField = Type.Object({
  /** JSON pointer into the arguments, e.g. "/command". */
  path: Type.String(),
  /** Its whole length, in characters. */
  length: Type.Integer(),
  /** SHA-256 (hex) of its UTF-8 bytes: what is approved is exactly what runs. */
  sha256: Type.String(),
});
export type ClippedField = Static<typeof ClippedField>;

/** What a request of kind "budget" is about: continue (allow_once) raises `limitUsd` by `stepUsd`. */
export const BudgetInfo = Type.Object({
  /** session: budgets.perSessionUsd; day: budgets.dailyUsd, over every session of the local day. */
  scope: Type.Union([Type.Literal("session"), Type.Literal("day")]),
  /** Spent so far (the session's, or the day's), plus the estimated input of the next LLM call. */
  spentUsd: Type.Number(),
  /** What may be spent now: the configured budget, or what earlier "continue" answers raised it to. */
  limitUsd: Type.Number(),
  /** What one "continue" adds (the configured budget). */
  stepUsd: Type.Number(),
  /** scope day: the local day, YYYY-MM-DD. */
  day: Type.Optional(Type.String()),
});
export type BudgetInfo = Static<typeof BudgetInfo>;

const RequestFields = {
  id: Type.String(),
  /**
   * "tool" (absent in older servers): a tool call waits for the answer. "budget": the next LLM
   * call waits; allow_once continues (one more budget step), deny_once stops the turn.
   */
  kind: Type.Optional(Type.Union([Type.Literal("tool"), Type.Literal("budget")])),
  /** kind "budget": what was spent and what "continue" allows. */
  budget: Type.Optional(BudgetInfo),
  toolCallId: Type.String(),
  tool: Type.String(),
  /** The tool's arguments, strings over 16 KiB shortened (see `clipped`). */
  input: Type.Unknown(),
  /** Every shortened string, with its length and hash; absent when nothing was shortened. */
  clipped: Type.Optional(Type.Array(ClippedField)),
  /** One line for people: the command, or the tool and its path. */
  summary: Type.String(),
  /** Why the policy asks. */
  reason: Type.String(),
  createdAt: Type.Integer(),
  /** When the request is denied for want of an answer (ms since the epoch). */
  expiresAt: Type.Integer(),
  options: Type.Array(PermissionOption),
};

/** `permission_request` event payload. */
export const PermissionRequestEvent = Type.Object(RequestFields);

/** A pending permission request as `permission.list` returns it. */
export const PermissionRequest = Type.Object({ ...RequestFields, sessionId: Type.String() });
export type PermissionRequest = Static<typeof PermissionRequest>;

/** `permission_resolved` event payload. */
export const PermissionResolvedEvent = Type.Object({
  id: Type.String(),
  decision: PermissionOutcome,
  /** Who settled it: a principal's name, or "timeout", "abort", "shutdown", "deleted". */
  by: Type.String(),
  /** Rules the answer created (allow_turn, allow_session, allow_always, deny_always). */
  rules: Type.Optional(Type.Array(Rule)),
  /** What the user said with a denial; the model reads it. */
  message: Type.Optional(Type.String()),
});

export const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Type.Integer(),
  sessionId: Nullable(Type.String()),
  toolCallId: Nullable(Type.String()),
  tool: Type.String(),
  summary: Type.String(),
  /**
   * builtin | rule | heuristic | profile decide automatically; user | timeout | cancel settle a
   * question; rules records a rule added or removed (tool, decision and ruleId are the rule's).
   */
  layer: Type.Union([
    Type.Literal("builtin"),
    Type.Literal("rule"),
    Type.Literal("heuristic"),
    Type.Literal("profile"),
    Type.Literal("user"),
    Type.Literal("timeout"),
    Type.Literal("cancel"),
    Type.Literal("error"),
    Type.Literal("rules"),
  ]),
  ruleId: Nullable(Type.String()),
  decision: RuleDecision,
  by: Type.String(),
  reason: Nullable(Type.String()),
  requestId: Nullable(Type.String()),
});
export type AuditEntry = Static<typeof AuditEntry>;

/**
 * How one tool call of a session's history was decided, from the audit log: kept across reloads
 * and restarts, so a client shows after get_messages what permission_resolved said live.
 */
export const ToolCallDecision = Type.Object({
  decision: Type.Union([Type.Literal("allow"), Type.Literal("deny")]),
  /**
   * The answer to the question (allow_once … deny_always, expired, cancelled), or "policy" when
   * the call was decided without asking (layer and ruleId say how).
   */
  outcome: Type.Union([PermissionOutcome, Type.Literal("policy")]),
  /** The answering device's name, "timeout", "abort", "shutdown", "restart"; "policy" for automatic decisions. */
  by: Type.String(),
  /** builtin | rule | heuristic | profile | error decided automatically; user | timeout | cancel settled a question. */
  layer: AuditEntry.properties.layer,
  /** The rule that decided (layer "rule"). */
  ruleId: Nullable(Type.String()),
  /** The policy's reason (automatic decisions), or what the user said with a denial. */
  reason: Nullable(Type.String()),
  at: Type.Integer(),
});
export type ToolCallDecision = Static<typeof ToolCallDecision>;
