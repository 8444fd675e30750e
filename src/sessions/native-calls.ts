import { randomBytes } from "node:crypto";
import { ProtocolError } from "../protocol/errors.js";

/** What a native tool call ends with, as pi's tool result. */
export interface NativeToolResult {
  content: { type: "text"; text: string }[];
  details: { result: unknown };
}

interface Pending {
  connectionId: string;
  toolName: string;
  resolve(r: NativeToolResult): void;
  reject(err: Error): void;
}

/** How a call reaches the one connection that offered the tool. */
export interface NativeCallTarget {
  connectionId: string;
  request(payload: { callId: string; toolName: string; args: Record<string, unknown> }): void;
  cancel(payload: { callId: string }): void;
}

function toResult(result: unknown): NativeToolResult {
  const text = typeof result === "string" ? result : JSON.stringify(result ?? null);
  return { content: [{ type: "text", text }], details: { result } };
}

/**
 * Every native tool call in flight, server-wide: the agent's side waits on `call`, the connection's
 * side answers with `respond`. A call ends exactly once: answered, timed out, aborted, or failed
 * because its connection went away.
 */
export class NativeCalls {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly timeoutMs: number) {}

  call(
    target: NativeCallTarget,
    toolName: string,
    args: Record<string, unknown>,
    signal: AbortSignal | undefined,
  ): Promise<NativeToolResult> {
    if (signal?.aborted) return Promise.reject(new Error("The turn was aborted; the tool call did not run."));
    const callId = `nc_${randomBytes(8).toString("hex")}`;
    return new Promise<NativeToolResult>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.pending.delete(callId);
      };
      const giveUp = (why: string): void => {
        if (!this.pending.has(callId)) return;
        finish();
        target.cancel({ callId });
        reject(new Error(why));
      };
      const onAbort = (): void =>
        giveUp("The turn was aborted; the client was told to cancel the tool call.");
      const timer = setTimeout(
        () => giveUp(`The client did not answer ${toolName} within ${Math.round(this.timeoutMs / 1000)} s.`),
        this.timeoutMs,
      );
      timer.unref();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(callId, {
        connectionId: target.connectionId,
        toolName,
        resolve: (r) => {
          finish();
          resolve(r);
        },
        reject: (err) => {
          finish();
          reject(err);
        },
      });
      target.request({ callId, toolName, args });
    });
  }

  /** A connection's answer; only the connection the request went to may give it, and only once. */
  respond(
    connectionId: string,
    answer: { callId: string; result?: unknown; error?: { message: string } },
  ): void {
    const p = this.pending.get(answer.callId);
    if (!p || p.connectionId !== connectionId) {
      throw new ProtocolError(
        "not_found",
        `no native tool call ${answer.callId} waits for this connection; it was answered, cancelled or timed out`,
      );
    }
    if (answer.error !== undefined && answer.result !== undefined) {
      throw new ProtocolError("invalid_request", "native_tool_response takes result or error, not both");
    }
    if (answer.error !== undefined) p.reject(new Error(answer.error.message || `${p.toolName} failed`));
    else p.resolve(toResult(answer.result));
  }

  /** The connection is gone: its calls fail now instead of waiting for the timeout. */
  dropConnection(connectionId: string): void {
    for (const p of [...this.pending.values()]) {
      if (p.connectionId === connectionId)
        p.reject(new Error(`The client that runs ${p.toolName} disconnected before answering.`));
    }
  }

  /** Calls waiting for an answer (for tests and diagnostics). */
  get size(): number {
    return this.pending.size;
  }
}
