import type { NativeClient } from "./native-tools.js";
import type { OutboundEvent } from "./replay-ring.js";

export type ReplayVerdict = "none" | "ok" | "gap";
export type AttachLevel = "full" | "lifecycle";

/** What the attached client said it can do, in its hello. */
export interface SubscriberTraits {
  /** It answers permission_request events. */
  permissionRequests: boolean;
  /** The tools it runs for the agent, if any. */
  native?: NativeClient;
}

/** Streaming pieces a "lifecycle" subscriber does without; every *_end, status and permission event still flows. */
const DELTA_TYPES = new Set(["message_update", "tool_execution_update"]);

/**
 * One connection's view of a session's events. Events that arrive before `start()` are held, so the
 * transport can send its attach response, then the replay, then live events, in that order.
 */
export class Subscription {
  private held: OutboundEvent[] | undefined = [];
  private listener: ((e: OutboundEvent) => void) | undefined;
  private isClosed = false;

  readonly verdict: ReplayVerdict;
  readonly level: AttachLevel;
  readonly traits: SubscriberTraits;
  /** The last seq the client had when it subscribed: its sinceSeq, or the session's seq then. */
  readonly fromSeq: number;
  private readonly replay: OutboundEvent[];
  private readonly detach: (s: Subscription) => void;
  /** Events sent again (same seq) to this connection only: pending permission requests, an interrupted status. */
  private readonly resend: OutboundEvent[];

  constructor(o: {
    verdict: ReplayVerdict;
    replay: OutboundEvent[];
    detach: (s: Subscription) => void;
    resend?: OutboundEvent[];
    level?: AttachLevel;
    traits?: SubscriberTraits;
    fromSeq: number;
  }) {
    this.verdict = o.verdict;
    this.replay = o.replay;
    this.detach = o.detach;
    this.resend = o.resend ?? [];
    this.level = o.level ?? "full";
    this.traits = o.traits ?? { permissionRequests: true };
    this.fromSeq = o.fromSeq;
  }

  get replayCount(): number {
    return this.replay.length;
  }

  private wanted(e: OutboundEvent): boolean {
    return this.level === "full" || !DELTA_TYPES.has(e.type);
  }

  push(e: OutboundEvent): void {
    if (!this.wanted(e)) return;
    if (this.held) this.held.push(e);
    else this.listener?.(e);
  }

  start(listener: (e: OutboundEvent) => void): void {
    const bySeq = new Map([...this.resend, ...this.replay].map((e) => [e.seq, e]));
    const pending = [...[...bySeq.values()].sort((a, b) => a.seq - b.seq), ...(this.held ?? [])];
    this.held = undefined;
    this.listener = listener;
    let last = 0;
    for (const e of pending) {
      if (e.seq > last && this.wanted(e)) listener(e);
      last = Math.max(last, e.seq);
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    this.isClosed = true;
    this.held = undefined;
    this.listener = undefined;
    this.detach(this);
  }
}
