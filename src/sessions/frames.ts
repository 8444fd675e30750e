import { PROTOCOL_VERSION } from "../protocol/envelope.js";
import type { SessionEvent } from "../protocol/events.js";
import type { OutboundEvent } from "./replay-ring.js";

/**
 * PI_SERVER_BENCH_TIMESTAMPS=1, read once at start, adds a diagnostic `ts` to every event frame (when
 * the server emitted it, ms, on performance.timeOrigin + performance.now()) so `npm run bench` can
 * measure the latency the relay adds. Off, `ts` is undefined and JSON.stringify leaves it out.
 */
const BENCH_TIMESTAMPS = process.env.PI_SERVER_BENCH_TIMESTAMPS === "1";

/** One string per content block kind and index, not one per streamed token (the ring keeps them). */
const KEYS = { text_delta: [] as string[], thinking_delta: [] as string[] };

function mergeKey(type: "text_delta" | "thinking_delta", contentIndex: number): string {
  if (contentIndex >= 64) return `${type}:${contentIndex}`;
  const known = KEYS[type];
  return (known[contentIndex] ??= `${type}:${contentIndex}`);
}

/** One session event as it goes on the wire and into the replay ring. */
export function outboundEvent(
  sessionId: string,
  epoch: string,
  seq: number,
  ev: SessionEvent,
): OutboundEvent {
  const ts = BENCH_TIMESTAMPS ? performance.timeOrigin + performance.now() : undefined;
  const data = JSON.stringify({
    v: PROTOCOL_VERSION,
    kind: "event",
    sessionId,
    epoch,
    seq,
    ts,
    type: ev.type,
    payload: ev.payload,
  });
  // merge is always present (undefined or not) and built as one literal: every streamed token goes
  // through here, and a spread or a late-added property cost more than the JSON.stringify above.
  const out: OutboundEvent = { seq, type: ev.type, data, merge: undefined };
  if (ev.type === "message_update") {
    const d = ev.payload.assistantMessageEvent;
    if ((d.type === "text_delta" || d.type === "thinking_delta") && d.contentIndex !== undefined) {
      out.merge = {
        key: mergeKey(d.type, d.contentIndex),
        sessionId,
        epoch,
        deltaType: d.type,
        contentIndex: d.contentIndex,
        text: d.delta ?? "",
        ts,
      };
    }
  }
  return out;
}

/** A frame for one connection, outside the seq stream: it carries the last seq and is never replayed. */
export function targetedFrame(
  sessionId: string,
  epoch: string,
  seq: number,
  type: "native_tool_request" | "native_tool_cancel",
  payload: object,
): string {
  return JSON.stringify({
    v: PROTOCOL_VERSION,
    kind: "event",
    sessionId,
    epoch,
    seq: Math.max(1, seq),
    type,
    payload,
  });
}
