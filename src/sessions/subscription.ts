import type { OutboundEvent } from "./replay-ring.js";

export type ReplayVerdict = "none" | "ok" | "gap";
export type AttachLevel = "full" | "lifecycle";

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

  constructor(
    readonly verdict: ReplayVerdict,
    private readonly replay: OutboundEvent[],
    private readonly detach: (s: Subscription) => void,
    /** Events sent again (same seq) to this connection only: pending permission requests, an interrupted status. */
    private readonly resend: OutboundEvent[] = [],
    readonly level: AttachLevel = "full",
  ) {}

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
