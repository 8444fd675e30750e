import type { Logger } from "pino";
import type { UsagePurpose, UsageStore } from "../store/usage.js";
import { isStorageFull } from "../store/storage-errors.js";

/** The part of pi's assistant message that says what the call cost. */
interface AssistantUsage {
  role: "assistant";
  provider: string;
  model: string;
  usage?: {
    input?: number;
    output?: number;
    cacheRead?: number;
    cacheWrite?: number;
    cost?: { total?: number };
  };
}

function count(n: number | undefined): number {
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

export function isAssistantWithUsage(m: unknown): m is AssistantUsage {
  const a = m as Partial<AssistantUsage> | null;
  return !!a && a.role === "assistant" && typeof a.provider === "string" && typeof a.model === "string";
}

/**
 * Writes one LLM call's tokens and cost (pi computes the cost from the model's prices). Runs in
 * pi's event callbacks: a full disk is logged, never thrown out of them.
 */
export function recordUsage(
  store: UsageStore,
  log: Logger,
  session: { id: string; repoId: string | null },
  message: AssistantUsage,
  purpose: UsagePurpose,
): void {
  const u = message.usage;
  const entry = {
    at: Date.now(),
    sessionId: session.id,
    repoId: session.repoId,
    model: `${message.provider}/${message.model}`,
    purpose,
    input: count(u?.input),
    output: count(u?.output),
    cacheRead: count(u?.cacheRead),
    cacheWrite: count(u?.cacheWrite),
    costUsd:
      typeof u?.cost?.total === "number" && Number.isFinite(u.cost.total) ? Math.max(0, u.cost.total) : 0,
  };
  if (entry.input + entry.output + entry.cacheRead + entry.cacheWrite === 0 && entry.costUsd === 0) return;
  try {
    store.record(entry);
  } catch (err) {
    if (!isStorageFull(err)) throw err;
    log.error({ err, sessionId: session.id }, "could not record usage: disk full");
  }
}
