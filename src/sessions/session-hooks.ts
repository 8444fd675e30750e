import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { Logger } from "pino";
import type { ServerConfig } from "../store/config.js";
import type { SearchStore } from "../store/search.js";
import type { SessionRecord, SessionsIndex } from "../store/sessions-index.js";
import { isStorageFull } from "../store/storage-errors.js";
import type { UsageStore } from "../store/usage.js";
import type { Budgets, BudgetSession } from "./budgets.js";
import type { AgentSession, AgentSessionEvent, PiRuntime } from "./pi.js";
import { backfillSearch, indexLive } from "./search-indexer.js";
import { generateTitle } from "./titles.js";
import { isAssistantWithUsage, recordUsage } from "./usage-recorder.js";
import { contentText } from "./message-text.js";
import { runOutcome } from "./translate.js";

/**
 * Where the end of a run is told beyond the attached clients (push notifications, wired in
 * server.ts): sessions/ says what happened, not to whom or how.
 */
export interface RunNotices {
  /** A run finished; `reply` is the text of its last answer. */
  turnEnded(sessionId: string, reply: string): void;
  /** A run ended on a model provider error. */
  turnFailed(sessionId: string, error: string): void;
  /** A running turn was cut short (the server stopped or crashed during it). */
  interrupted(sessionId: string, reason: string): void;
}

export interface SessionHooksDeps {
  pi: PiRuntime;
  index: SessionsIndex;
  usage: UsageStore;
  search: SearchStore;
  budgets: Budgets;
  config: () => ServerConfig;
  log: Logger;
  notices?: RunNotices;
}

/**
 * What the server does alongside every session's turns: budget checks before each LLM call,
 * usage recorded per call, the search index brought up to date when a run ends, and a title
 * generated from the first prompt.
 */
export class SessionHooks {
  private readonly titling = new Set<string>();
  private readonly closing = new AbortController();
  private backfill: { done: Promise<number>; stop(): void } | undefined;

  constructor(private readonly deps: SessionHooksDeps) {}

  /** Indexes, in the background, what existing sessions said before search existed or since the last start. */
  startBackfill(): Promise<number> {
    this.backfill ??= backfillSearch(this.deps.pi.sdk, this.deps.search, this.deps.index, this.deps.log);
    return this.backfill.done;
  }

  extensions(session: () => BudgetSession | undefined): PiSdk.ExtensionFactory[] {
    return [this.deps.budgets.extension(session)];
  }

  /** The per-event work for one session; `showTitle` puts a generated title in pi and on the wire. */
  observer(
    record: SessionRecord,
    agent: AgentSession,
    showTitle: (name: string) => void,
  ): (e: AgentSessionEvent) => void {
    return (e) => {
      if (e.type === "message_end") {
        const m = e.message as { role?: string };
        if (isAssistantWithUsage(m)) recordUsage(this.deps.usage, this.deps.log, record, m, "turn");
        else if (m.role === "user" && record.nameSource === "default")
          this.title(record, agent, m, showTitle);
      } else if (e.type === "agent_end") {
        this.quietly(record.id, "could not index the session for search", () =>
          indexLive(this.deps.search, record.id, agent.sessionManager.getEntries(), record.piSessionFile),
        );
        this.quietly(record.id, "could not tell that the turn ended", () =>
          this.runEnded(record.id, e.messages),
        );
      }
    };
  }

  /** An aborted run tells nobody: whoever aborted it knows (a stop is told as interrupted, below). */
  private runEnded(sessionId: string, messages: readonly unknown[]): void {
    const notices = this.deps.notices;
    if (!notices) return;
    const outcome = runOutcome(messages);
    const last = [...messages].reverse().find((m) => (m as { role?: unknown }).role === "assistant") as
      { content?: unknown; errorMessage?: unknown } | undefined;
    if (outcome === "ok") notices.turnEnded(sessionId, contentText(last?.content, " "));
    else if (outcome === "error")
      notices.turnFailed(
        sessionId,
        typeof last?.errorMessage === "string" && last.errorMessage
          ? last.errorMessage
          : "the model provider returned an error",
      );
  }

  /** A running turn of the session was cut short. */
  interrupted(sessionId: string, reason: string): void {
    this.quietly(sessionId, "could not tell that the turn was interrupted", () =>
      this.deps.notices?.interrupted(sessionId, reason),
    );
  }

  private title(
    record: SessionRecord,
    agent: AgentSession,
    message: unknown,
    showTitle: (name: string) => void,
  ): void {
    if (this.titling.has(record.id)) return;
    // Only the conversation's first prompt names it.
    if (agent.messages.filter((m) => m.role === "user").length > 1) return;
    this.titling.add(record.id);
    const prompt = contentText((message as { content?: unknown }).content, " ");
    void generateTitle(this.deps, record, agent.model, prompt, this.closing.signal)
      .then(({ title }) => {
        if (this.closing.signal.aborted) return;
        this.quietly(record.id, "could not store the session title", () => {
          if (!this.deps.index.setAutoTitle(record.id, title)) return;
          record.name = title;
          record.nameSource = "auto";
          showTitle(title);
        });
      })
      .finally(() => this.titling.delete(record.id));
  }

  /** Runs in pi's callbacks or a detached promise: nothing may be thrown out of it. */
  private quietly(sessionId: string, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.deps.log.error({ err, sessionId, storageFull: isStorageFull(err) }, what);
    }
  }

  /** Stops the backfill and pending titles; resolves once nothing more touches state.db. */
  async close(): Promise<void> {
    this.closing.abort();
    this.backfill?.stop();
    await this.backfill?.done.catch(() => 0);
  }
}
