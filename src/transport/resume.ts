import type { NativeToolSpec } from "../protocol/native-tools.js";
import type { AttachLevel } from "../sessions/live-session.js";

/** What a connection was attached to and offered, enough for its successor to carry on. */
export interface ConnectionSnapshot {
  principalId: string;
  /** coalesceMs: the attachment's delta window, kept for the successor (0: none). */
  attachments: { sessionId: string; level: AttachLevel; fromSeq: number; coalesceMs: number }[];
  nativeTools: NativeToolSpec[];
  permissionRequests: boolean;
}

/** An open connection a resuming client may take over (its old socket, not yet noticed as dead). */
export interface Resumable {
  readonly id: string;
  readonly principalId: string | undefined;
  /** Closes this connection and returns what it was attached to; it is not remembered again. */
  handOver(): ConnectionSnapshot;
}

const MAX_REMEMBERED = 1000;

/**
 * Dropped connections, remembered for `windowSec` so that `hello.resume {connectionId}` can re-attach
 * their sessions. A phone's network blip often reaches the server after the phone has reconnected
 * (the old socket is only dropped at the next missed pong), so an open connection of the same
 * principal is taken over too.
 */
export class ResumeRegistry {
  private readonly dropped = new Map<string, ConnectionSnapshot & { until: number }>();

  constructor(
    readonly windowSec: number,
    private readonly open: () => Iterable<Resumable>,
  ) {}

  remember(connectionId: string, snapshot: ConnectionSnapshot): void {
    if (this.windowSec === 0 || snapshot.attachments.length === 0) return;
    this.prune();
    this.dropped.delete(connectionId);
    this.dropped.set(connectionId, { ...snapshot, until: Date.now() + this.windowSec * 1000 });
    // Map order is insertion order: the oldest entries go first.
    while (this.dropped.size > MAX_REMEMBERED)
      this.dropped.delete(this.dropped.keys().next().value as string);
  }

  /** The snapshot of that connection when it belongs to the same principal; taken once. */
  take(connectionId: string, principalId: string): ConnectionSnapshot | undefined {
    for (const c of this.open()) {
      if (c.id === connectionId) return c.principalId === principalId ? c.handOver() : undefined;
    }
    this.prune();
    const entry = this.dropped.get(connectionId);
    if (!entry || entry.principalId !== principalId) return undefined;
    this.dropped.delete(connectionId);
    return entry;
  }

  private prune(): void {
    const now = Date.now();
    for (const [id, e] of this.dropped) if (e.until <= now) this.dropped.delete(id);
  }
}
