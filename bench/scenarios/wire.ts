import type { Socket } from "node:net";
import type { Baseline } from "../baseline/index.js";
import { connect } from "../lib/fleet.js";
import type { PiClient } from "../../src/client/client.js";
import { promptFor, type Stream } from "../lib/workload.js";

/** One cell of the matrix: whether the client offers permessage-deflate, and its delta window. */
export interface WireCase {
  deflate: boolean;
  coalesceMs: number;
}

export interface WireRow extends WireCase {
  /** The server accepted the client's permessage-deflate offer. */
  negotiated: boolean;
  /** Bytes the client's TCP socket read from prompt to idle: every frame, WebSocket headers included. */
  bytes: number;
  /** WebSocket messages in those bytes (event frames and the prompt's response). */
  frames: number;
}

export interface Wire {
  tokens: number;
  /** The pace of the turn: an LLM's, so a window has deltas to join. */
  stream: Stream;
  /** Characters of text streamed (a token is a 4-character chunk, about an English LLM token). */
  textBytes: number;
  rows: WireRow[];
  /** Plain frames, no window (the cell `deflate: false, coalesceMs: 0`), for the old figures. */
  wireBytes: number;
  /** A text_delta frame as sent, for the report. */
  sample: string;
  /** Baseline: every raw pi event of the same turn as JSON.stringify(event), bytes. */
  rawPiBytes: number;
}

export const WIRE_CASES: WireCase[] = [false, true].flatMap((deflate) =>
  [0, 50, 250].map((coalesceMs) => ({ deflate, coalesceMs })),
);

function socketOf(client: PiClient): Socket {
  // ws exposes no byte counter of its own: _socket is the net.Socket it reads from.
  return (client.ws as unknown as { _socket: Socket })._socket;
}

/**
 * Every cell streams the same `tokens`-token turn on a fresh session of its own, all at once (a
 * byte count does not depend on what else runs), each to one real `ws` client that offers or does
 * not offer permessage-deflate and asks for its window at hello, as an app would. The server must
 * run without the benchmark's `ts` stamps: they are not part of what a user's server sends, and
 * they would not compress.
 */
export async function measureWire(
  serverUrl: string,
  baseline: Baseline,
  tokens: number,
  cases: WireCase[] = WIRE_CASES,
): Promise<Wire> {
  const stream: Stream = { tokens, chunkSize: 4, delayMs: 10 };
  let sample = "";
  const rows = await Promise.all(
    cases.map(async (c): Promise<WireRow> => {
      const client = await connect(serverUrl, { perMessageDeflate: c.deflate, coalesceMs: c.coalesceMs });
      try {
        const negotiated = (client.ws.extensions as string).includes("permessage-deflate");
        const { session } = await client.request("session.create", {});
        let frames = 0;
        client.ws.on("message", (data: Buffer) => {
          frames++;
          if (!c.deflate && c.coalesceMs === 0 && !sample) {
            const text = data.toString();
            if (text.includes('"type":"text_delta"')) sample = text;
          }
        });
        const idle = client.waitForEvent(
          session.id,
          "session_status",
          (e) => e.payload.status === "idle",
          120_000,
        );
        const before = socketOf(client).bytesRead;
        frames = 0;
        await client.request("prompt", { message: promptFor(stream) }, session.id);
        await idle;
        return { ...c, negotiated, bytes: socketOf(client).bytesRead - before, frames };
      } finally {
        await client.close();
      }
    }),
  );
  const raw = await baseline.call({ cmd: "stream", sessions: 1, stream, rawBytes: true, fresh: true });
  const plain = rows.find((r) => !r.deflate && r.coalesceMs === 0) ?? rows[0];
  return {
    tokens,
    stream,
    textBytes: tokens * stream.chunkSize,
    rows,
    wireBytes: plain?.bytes ?? Number.NaN,
    sample,
    rawPiBytes: raw.rawBytes,
  };
}
