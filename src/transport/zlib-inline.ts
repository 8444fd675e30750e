import type { Deflate, DeflateRaw, Inflate, InflateRaw } from "node:zlib";

/** What zlib's own deflateSync/inflateSync drive a stream's native handle with (node:zlib processChunkSync). */
interface NativeHandle {
  writeSync(
    flush: number,
    input: Buffer,
    inOff: number,
    inLen: number,
    out: Buffer,
    outOff: number,
    outLen: number,
  ): void;
}

type ZlibStream = Deflate | DeflateRaw | Inflate | InflateRaw;
type NativeStream = ZlibStream & { _handle?: NativeHandle | null; _writeState?: Uint32Array };

/** One scratch output buffer for every stream: an inline call never yields, so none overlap. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Runs a zlib stream's next chunk synchronously, on the stream's own native handle, keeping its
 * state (the window a permessage-deflate peer shares) from one call to the next; zlib's one-shot
 * deflateSync does the same but closes its stream after one chunk. Throws what zlib reports.
 * Undefined when this Node's zlib streams lack that shape (the caller keeps the stream's async path).
 * The caller must not use the stream's async path while an inline call could run.
 */
export function inlineZlib(s: ZlibStream): ((input: Buffer, flush: number) => Buffer) | undefined {
  const stream = s as NativeStream;
  const handle = stream._handle;
  const state = stream._writeState;
  if (typeof handle?.writeSync !== "function" || !(state instanceof Uint32Array) || state.length < 2) {
    return undefined;
  }
  let failed: Error | undefined;
  // The native handle reports errors through the stream, which emits them (and closes itself).
  stream.on("error", (err: Error) => (failed = err));
  return (input, flush) => {
    if (failed) throw failed;
    if (stream.destroyed) throw new Error("zlib stream closed");
    const parts: Buffer[] = [];
    let inOff = 0;
    let inLen = input.length;
    // zlib.h: called again with the same flush while it fills the whole output buffer.
    for (;;) {
      handle.writeSync(flush, input, inOff, inLen, scratch, 0, scratch.length);
      if (failed) throw failed;
      const availOut = state[0] as number;
      const availIn = state[1] as number;
      parts.push(Buffer.from(scratch.subarray(0, scratch.length - availOut)));
      if (availOut !== 0) break;
      inOff += inLen - availIn;
      inLen = availIn;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  };
}
