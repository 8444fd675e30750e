import { PROTOCOL_VERSION } from "../protocol/envelope.js";
import type { OutboundEvent } from "../sessions/live-session.js";

export type Merge = NonNullable<OutboundEvent["merge"]>;

/** Seq of the first event an outbound event stands for (a merged delta covers firstSeq … seq). */
export function firstSeqOf(e: OutboundEvent): number {
  return e.firstSeq ?? e.seq;
}

/** Whether `next` continues the delta run `merge` … `seq` without a gap: same block, next seq. */
export function continues(merge: Merge, seq: number, next: OutboundEvent): boolean {
  const m = next.merge;
  return (
    m !== undefined &&
    m.key === merge.key &&
    m.sessionId === merge.sessionId &&
    m.epoch === merge.epoch &&
    seq + 1 === firstSeqOf(next)
  );
}

/** The frame of consecutive deltas of one block: the concatenated text, seqs firstSeq … seq. */
export function mergedDeltaFrame(m: Merge, firstSeq: number, seq: number): string {
  return JSON.stringify({
    v: PROTOCOL_VERSION,
    kind: "event",
    sessionId: m.sessionId,
    epoch: m.epoch,
    seq,
    firstSeq,
    ts: m.ts,
    type: "message_update",
    payload: { assistantMessageEvent: { type: m.deltaType, contentIndex: m.contentIndex, delta: m.text } },
  });
}
