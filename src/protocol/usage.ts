import { Type } from "typebox";

const Tokens = {
  /** LLM calls counted. */
  calls: Type.Integer({ minimum: 0 }),
  input: Type.Integer({ minimum: 0 }),
  output: Type.Integer({ minimum: 0 }),
  cacheRead: Type.Integer({ minimum: 0 }),
  cacheWrite: Type.Integer({ minimum: 0 }),
  /** As pi computes it from the model's prices (models.json or pi's model list). */
  costUsd: Type.Number({ minimum: 0 }),
};

export const UsageRow = Type.Object({
  /** The session id, the repo id ("" for sessions without a repo), or the day (YYYY-MM-DD, server's local time). */
  key: Type.String(),
  /** groupBy session: the session's name; null when it was deleted. */
  name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  /** groupBy session: the session's repo. */
  repoId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  ...Tokens,
});

/** A time as an ISO date ("2026-12-01", the server's local midnight) or date-time. */
const When = Type.String({ minLength: 10, maxLength: 40 });

export const UsageMethods = {
  "usage.summary": {
    scoped: false,
    description:
      "Tokens and cost of every LLM call (turns and titles) in [since, until), per session, repo or day, with the total and the budgets in force.",
    params: Type.Object({
      since: Type.Optional(When),
      until: Type.Optional(When),
      groupBy: Type.Optional(
        Type.Union([Type.Literal("session"), Type.Literal("repo"), Type.Literal("day")]),
      ),
    }),
    result: Type.Object({
      groupBy: Type.Union([Type.Literal("session"), Type.Literal("repo"), Type.Literal("day")]),
      rows: Type.Array(UsageRow),
      total: Type.Object(Tokens),
      budgets: Type.Object({
        perSessionUsd: Type.Union([Type.Number(), Type.Null()]),
        dailyUsd: Type.Union([Type.Number(), Type.Null()]),
        /** What all sessions spent today (local day). */
        todayUsd: Type.Number(),
        /** Today's daily budget after "continue" answers raised it; null without a daily budget. */
        todayLimitUsd: Type.Union([Type.Number(), Type.Null()]),
      }),
    }),
  },
} as const;
