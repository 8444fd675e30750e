import { constants, createDeflateRaw } from "node:zlib";
import type { WebSocket } from "ws";
import { inlineZlib } from "./zlib-inline.js";

/**
 * Frames up to this size are compressed on the event loop; larger ones (a long get_messages page)
 * go through the thread pool as ws does it, so one of them never stalls every other connection.
 * At about 35 ns a byte, 32 KiB is about a millisecond.
 */
export const INLINE_DEFLATE_MAX_BYTES = 32 * 1024;

/** The negotiated permessage-deflate extension as ws keeps it (ws exposes no public handle). */
interface Extension {
  _isServer: boolean;
  _options: { zlibDeflateOptions?: object };
  params: { server_max_window_bits?: number | true; server_no_context_takeover?: boolean };
  compress(data: Buffer | string, fin: boolean, callback: (err: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}

/** The 4 bytes a sync flush ends with; a message's final fragment leaves them out (RFC 7692 §7.2.1). */
const TRAILER_BYTES = 4;

/**
 * ws compresses every outgoing message through zlib on libuv's thread pool: a write and a flush per
 * message, two round trips through a pool shared by every connection and capped by ws at 10 jobs at
 * once. A streamed reply is hundreds of ~200-byte messages per connection, each costing a few
 * microseconds of zlib work, and the round trips turned that into milliseconds per message and
 * tens to hundreds of milliseconds at a turn's start (npm run bench, 20 sessions × 3 clients). Here
 * the connection's deflate stream is driven synchronously, as zlib's own deflateSync drives one, with
 * the same negotiated window, level and memory: one deflate() call per message on the event loop.
 *
 * Returns false, leaving ws's own compression in place, when permessage-deflate was not negotiated
 * or this Node's zlib does not have the shape relied on.
 */
export function compressInline(ws: WebSocket): boolean {
  const ext = (ws as unknown as { _extensions?: Record<string, Extension | undefined> })._extensions?.[
    "permessage-deflate"
  ];
  if (!ext?._isServer) return false;
  const bits = ext.params.server_max_window_bits;
  const stream = createDeflateRaw({
    ...ext._options.zlibDeflateOptions,
    windowBits: typeof bits === "number" ? bits : constants.Z_DEFAULT_WINDOWBITS,
  });
  const inline = inlineZlib(stream);
  if (!inline) {
    stream.close();
    return false;
  }
  const resetAfterMessage = ext.params.server_no_context_takeover === true;
  let failed: Error | undefined;
  stream.on("error", (err: Error) => (failed = err));
  // Output of a large message compressed through the pool, collected until its flush completes.
  let pooled: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => pooled.push(chunk));

  const finish = (out: Buffer, fin: boolean): Buffer => {
    if (fin && resetAfterMessage) stream.reset();
    return fin ? out.subarray(0, out.length - TRAILER_BYTES) : out;
  };

  ext.compress = (data, fin, callback) => {
    // Closed by cleanup(): a native handle must not be written after that.
    if (stream.destroyed) return;
    const input = typeof data === "string" ? Buffer.from(data) : data;
    if (input.length > INLINE_DEFLATE_MAX_BYTES) {
      // ws's Sender hands over one message at a time, so nothing runs inline meanwhile.
      stream.write(input);
      stream.flush(constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(pooled);
        pooled = [];
        if (failed) ws.terminate();
        else callback(null, finish(out, fin));
      });
      return;
    }
    let out: Buffer;
    try {
      out = inline(input, constants.Z_SYNC_FLUSH);
    } catch {
      // zlib refused its own stream (out of memory): the connection cannot go on compressed.
      ws.terminate();
      return;
    }
    callback(null, finish(out, fin));
  };
  const cleanup = ext.cleanup.bind(ext);
  ext.cleanup = () => {
    stream.close();
    cleanup();
  };
  return true;
}
