import { constants, createDeflateRaw } from "node:zlib";
import type { Baseline } from "../baseline/index.js";
import { connect } from "../lib/fleet.js";
import type { ServerProc } from "../lib/server-proc.js";
import { promptFor, type Stream } from "../lib/workload.js";

export interface Wire {
  tokens: number;
  /** Characters of text streamed (a token is a 4-character chunk, about an English LLM token). */
  textBytes: number;
  /** Every event frame of the turn as it crossed the socket: WebSocket header + JSON, bytes. */
  wireBytes: number;
  /** Of which message_update text deltas. */
  deltaBytes: number;
  frames: number;
  /** Estimate of wireBytes with permessage-deflate (context takeover), which the server does not enable. */
  deflateBytes: number;
  /** A text_delta frame as sent, for the report. */
  sample: string;
  /** Baseline: every raw pi event of the same turn as JSON.stringify(event), bytes. */
  rawPiBytes: number;
}

const TS_FIELD = /,"ts":[0-9.e+-]+/;

/** Server→client frames are unmasked: 2 header bytes, 4 past 125 bytes, 10 past 64 KiB. */
function frameBytes(payload: number): number {
  return payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10);
}

/**
 * What permessage-deflate (ws's defaults: shared window, each message sync-flushed and its 4-byte
 * tail dropped) would put on the wire for the same frames.
 */
async function deflated(frames: Buffer[]): Promise<number> {
  const z = createDeflateRaw();
  let out = 0;
  z.on("data", (c: Buffer) => (out += c.length));
  let total = 0;
  for (const f of frames) {
    const before = out;
    z.write(f);
    await new Promise<void>((resolve) => z.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve));
    total += frameBytes(out - before - 4);
  }
  z.close();
  return total;
}

/** One fresh session streams `tokens` text deltas to one client; every byte of its events is counted. */
export async function measureWire(server: ServerProc, baseline: Baseline, tokens: number): Promise<Wire> {
  const stream: Stream = { tokens, chunkSize: 4, delayMs: 0 };
  const client = await connect(server.url);
  const frames: Buffer[] = [];
  let wireBytes = 0;
  let deltaBytes = 0;
  let sample = "";
  try {
    const { session } = await client.request("session.create", {});
    client.ws.on("message", (data: Buffer) => {
      // The benchmark's own `ts` is not part of what a user's server sends.
      const text = data.toString().replace(TS_FIELD, "");
      if (!text.startsWith('{"v":1,"kind":"event"')) return;
      const frame = Buffer.from(text);
      frames.push(frame);
      wireBytes += frameBytes(frame.length);
      if (text.includes('"type":"text_delta"')) {
        deltaBytes += frameBytes(frame.length);
        sample = text;
      }
    });
    const idle = client.waitForEvent(
      session.id,
      "session_status",
      (e) => e.payload.status === "idle",
      120_000,
    );
    await client.request("prompt", { message: promptFor(stream) }, session.id);
    await idle;
  } finally {
    await client.close();
  }
  const raw = await baseline.call({ cmd: "stream", sessions: 1, stream, rawBytes: true, fresh: true });
  return {
    tokens,
    textBytes: tokens * stream.chunkSize,
    wireBytes,
    deltaBytes,
    frames: frames.length,
    sample,
    deflateBytes: await deflated(frames),
    rawPiBytes: raw.rawBytes,
  };
}
