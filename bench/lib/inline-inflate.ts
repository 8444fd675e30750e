import { constants, createInflateRaw } from "node:zlib";
import type WebSocket from "ws";
import { inlineZlib } from "../../src/transport/zlib-inline.js";

interface Extension {
  _isServer: boolean;
  params: { server_max_window_bits?: number | true; server_no_context_takeover?: boolean };
  decompress(data: Buffer, fin: boolean, callback: (err: Error | null, result?: Buffer) => void): void;
  cleanup(): void;
}

/** What a message's final fragment left out of its last sync flush (RFC 7692 §7.2.2). */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * A benchmark client inflates each message on its own thread, as a browser does, instead of
 * through ws's round trip to libuv's thread pool: the benchmark hosts every client in one process,
 * where 60 clients' inflates queued in one pool of 4 threads (and ws's limit of 10 jobs at once),
 * and that queue, which no phone or browser has, was counted as the server's latency. Must be
 * called before the first compressed message arrives (right after the socket opens).
 */
export function inflateInline(ws: WebSocket): boolean {
  const ext = (ws as unknown as { _extensions?: Record<string, Extension | undefined> })._extensions?.[
    "permessage-deflate"
  ];
  if (!ext || ext._isServer) return false;
  const bits = ext.params.server_max_window_bits;
  const stream = createInflateRaw({
    windowBits: typeof bits === "number" ? bits : constants.Z_DEFAULT_WINDOWBITS,
  });
  const inline = inlineZlib(stream);
  if (!inline) {
    stream.close();
    return false;
  }
  ext.decompress = (data, fin, callback) => {
    let out: Buffer;
    try {
      out = inline(fin ? Buffer.concat([data, TRAILER]) : data, constants.Z_SYNC_FLUSH);
      if (fin && ext.params.server_no_context_takeover) stream.reset();
    } catch (err) {
      queueMicrotask(() => callback(err as Error));
      return;
    }
    // ws's Receiver expects the answer after decompress() has returned (it re-enters its loop from
    // the callback): a microtask, not a trip through the event loop.
    queueMicrotask(() => callback(null, out));
  };
  const cleanup = ext.cleanup.bind(ext);
  ext.cleanup = () => {
    stream.close();
    cleanup();
  };
  return true;
}
