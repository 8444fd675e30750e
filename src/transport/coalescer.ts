import type { OutboundEvent } from "../sessions/live-session.js";
import { continues, firstSeqOf, type Merge, mergedDeltaFrame } from "./merged-delta.js";

interface Run {
  /** The run's first event, sent as it is when nothing joined it. */
  first: OutboundEvent;
  merge: Merge;
  firstSeq: number;
  seq: number;
}

/**
 * One attachment's delta window (hello / session.attach `coalesceMs`): a text or thinking delta is
 * held for up to `windowMs`, and the deltas of the same block that follow it within the window join
 * it in one frame. Anything else — another block's delta, a `*_end`, any other event — first sends
 * what is held, so the order of the session's events is never changed. Nothing held is ever lost
 * to the client: it has not seen those seqs, so a resume with its last seq replays them.
 */
export class DeltaCoalescer {
  private run: Run | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly windowMs: number,
    private readonly out: (e: OutboundEvent) => void,
  ) {}

  readonly push = (e: OutboundEvent): void => {
    if (this.closed) return;
    const run = this.run;
    if (run) {
      if (continues(run.merge, run.seq, e)) {
        // A fresh object: the first event's merge is shared with the replay ring and other clients.
        if (run.merge === run.first.merge) run.merge = { ...run.merge };
        run.merge.text += (e.merge as Merge).text;
        run.seq = e.seq;
        return;
      }
      this.flush();
    }
    if (e.merge) {
      this.run = { first: e, merge: e.merge, firstSeq: firstSeqOf(e), seq: e.seq };
      this.timer = setTimeout(this.flush, this.windowMs);
      return;
    }
    this.out(e);
  };

  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    if (run.seq === run.first.seq) {
      this.out(run.first);
      return;
    }
    this.out({
      seq: run.seq,
      firstSeq: run.firstSeq,
      type: "message_update",
      data: mergedDeltaFrame(run.merge, run.firstSeq, run.seq),
      merge: run.merge,
    });
  };

  /** Drops what is held (the connection or the attachment is gone) and stops the timer. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.run = undefined;
  }
}
