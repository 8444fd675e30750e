import type { Dist } from "../lib/common.js";
import type { Stream } from "../lib/workload.js";

/** Requests the benchmark sends to the raw-SDK child over its IPC channel. */
export type BaselineRequest =
  | { cmd: "init"; dataDir: string }
  | { cmd: "create"; count: number }
  | { cmd: "createToFirstEvent" }
  | { cmd: "stream"; sessions: number; stream: Stream; rawBytes?: boolean; fresh?: boolean };

export interface StreamResult {
  /** In-process subscriber's receive time minus the stamp taken when pi emitted the event, ms. */
  latency: Dist;
  delivered: number;
  wallMs: number;
  /** Bytes of JSON.stringify(event) for every raw pi event, when asked for. */
  rawBytes: number;
}

export interface ResultOf {
  init: { importMs: number };
  create: { total: number; createMs: number };
  createToFirstEvent: { createMs: number; firstEventMs: number };
  stream: StreamResult;
}

export type BaselineResult = ResultOf[keyof ResultOf];

export type BaselineReply =
  { id: number; ok: true; result: BaselineResult } | { id: number; ok: false; error: string };
