import { randomBytes } from "node:crypto";
import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { Logger } from "pino";
import type { BudgetInfo } from "../protocol/permissions.js";
import type { ServerConfig } from "../store/config.js";
import { localDay, type UsageStore } from "../store/usage.js";
import type { GateSession, PermissionBroker } from "./permissions.js";

export interface BudgetDeps {
  usage: UsageStore;
  config: () => ServerConfig;
  permissions: Pick<PermissionBroker, "askBudget">;
  log: Logger;
}

/** What the budget check needs of a session. */
export interface BudgetSession extends GateSession {
  /** Ends the running turn (as an abort does): called when the answer is stop. */
  stop(): void;
}

function usd(n: number): string {
  return `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
}

interface Over {
  info: BudgetInfo;
  raise(to: number): void;
}

/**
 * Spending checks made before every LLM call of every session. A call that would take the
 * session, or the day, past its budget waits for a "budget" permission request: continue raises
 * that budget by one step, anything else (stop, expiry, abort, nobody to ask) ends the turn.
 */
export class Budgets {
  private lastConfig: ServerConfig = {};

  constructor(private readonly deps: BudgetDeps) {}

  private budgets(): ServerConfig["budgets"] {
    try {
      this.lastConfig = this.deps.config();
    } catch (err) {
      this.deps.log.warn({ err }, "config.json could not be read; using the last good budgets");
    }
    return this.lastConfig.budgets;
  }

  /** The first budget the next call would cross; undefined when it fits every one. */
  private over(sessionId: string, estimateUsd: number): Over | undefined {
    const b = this.budgets();
    const { usage } = this.deps;
    if (b?.perSessionUsd !== undefined) {
      const step = b.perSessionUsd;
      const limit = usage.allowance("session", sessionId) ?? step;
      const spent = usage.sessionSpend(sessionId) + estimateUsd;
      if (spent >= limit) {
        return {
          info: { scope: "session", spentUsd: spent, limitUsd: limit, stepUsd: step },
          raise: (to) => usage.setAllowance("session", sessionId, to),
        };
      }
    }
    if (b?.dailyUsd !== undefined) {
      const step = b.dailyUsd;
      const day = localDay(Date.now());
      const limit = usage.allowance("day", day) ?? step;
      const spent = usage.daySpend(day) + estimateUsd;
      if (spent >= limit) {
        return {
          info: { scope: "day", spentUsd: spent, limitUsd: limit, stepUsd: step, day },
          raise: (to) => usage.setAllowance("day", day, to),
        };
      }
    }
    return undefined;
  }

  /** true: the call may go ahead; false: the turn is to stop. */
  async check(session: GateSession, estimateUsd: number, signal: AbortSignal | undefined): Promise<boolean> {
    for (;;) {
      const over = this.over(session.id, estimateUsd);
      if (!over) return true;
      const { info } = over;
      const what = info.scope === "session" ? "This session" : `All sessions on ${info.day ?? "today"}`;
      const answer = await this.deps.permissions.askBudget(
        session,
        {
          id: `budget_${randomBytes(6).toString("hex")}`,
          summary: `${what} reached the budget: ${usd(info.spentUsd)} of ${usd(info.limitUsd)}`,
          reason: `budgets.${info.scope === "session" ? "perSessionUsd" : "dailyUsd"} is ${usd(info.stepUsd)}: continue allows ${usd(info.stepUsd)} more, stop ends the turn`,
          budget: info,
        },
        signal,
      );
      if (answer !== "allow_once") return false;
      // Another session's answer may have raised the day's budget meanwhile: raise only what still binds.
      const still = this.over(session.id, estimateUsd);
      if (still && still.info.scope === info.scope) {
        still.raise(Math.max(still.info.limitUsd, still.info.spentUsd) + still.info.stepUsd);
      }
    }
  }

  /** The pi extension: the check runs in the `context` hook, which pi awaits before each LLM call. */
  extension(session: () => BudgetSession | undefined): PiSdk.ExtensionFactory {
    return (pi) => {
      pi.on("context", async (_event, ctx) => {
        const s = session();
        if (!s) return undefined;
        let signal: AbortSignal | undefined;
        let estimate = 0;
        try {
          signal = ctx.signal;
          const tokens = ctx.getContextUsage()?.tokens ?? 0;
          const price = ctx.model?.cost.input ?? 0;
          estimate = (tokens * price) / 1_000_000;
        } catch {
          // no estimate: the check uses what was spent
        }
        let go: boolean;
        try {
          go = await this.check(s, estimate, signal);
        } catch (err) {
          // A budget that cannot be checked must not spend unchecked.
          this.deps.log.error({ err, sessionId: s.id }, "budget check failed; stopping the turn");
          go = false;
        }
        if (!go) s.stop();
        return undefined;
      });
    };
  }
}
