import { createHash, randomBytes } from "node:crypto";
import { ProtocolError } from "../protocol/errors.js";
import type { PushActionTokensStore } from "../store/push-action-tokens.js";

/** How long a notification's buttons work (never past the request's own expiry). */
export const ACTION_TOKEN_TTL_MS = 10 * 60_000;

/** JSON with object keys sorted at every level: the same call always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x === undefined ? null : x)).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** SHA-256 (hex) of the tool's name and its whole arguments: what a notification's Approve releases. */
export function callSha256(tool: string, input: unknown): string {
  return createHash("sha256")
    .update(`${tool}\n${canonicalJson(input)}`)
    .digest("hex");
}

export interface ActionDeps {
  store: PushActionTokensStore;
  /** The waiting call of a request (tool and whole arguments), or undefined once it is settled. */
  pendingCall: (requestId: string) => { tool: string; input: unknown } | undefined;
  deviceAlive: (tokenId: string) => boolean;
  now?: () => number;
}

/** Mints and redeems the tokens a notification's Approve and Deny carry. */
export class ActionTokens {
  constructor(private readonly deps: ActionDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  /** Whether the request still waits for an answer (a burst drops one answered meanwhile). */
  stillWaiting(requestId: string): boolean {
    return this.deps.pendingCall(requestId) !== undefined;
  }

  forgetDevices(tokenIds: readonly string[]): void {
    this.deps.store.forgetDevices(tokenIds);
  }

  mint(
    requestId: string,
    call: { tool: string; input: unknown },
    tokenId: string,
    requestExpiresAt: number,
  ): string {
    const now = this.now();
    this.deps.store.prune(now);
    const token = randomBytes(32).toString("base64url");
    this.deps.store.add(token, {
      requestId,
      callSha256: callSha256(call.tool, call.input),
      tokenId,
      expiresAt: Math.min(now + ACTION_TOKEN_TTL_MS, requestExpiresAt),
    });
    return token;
  }

  /**
   * The request a token may answer, used up by this call. Refused (unauthorized) when unknown, used,
   * expired, of a revoked device, for another request, or when the waiting call is not the one hashed.
   */
  redeem(token: string, requestId: string): { requestId: string; tokenId: string } {
    const row = this.deps.store.consume(token, this.now());
    const refuse = (why: string): never => {
      throw new ProtocolError("unauthorized", `action token refused: ${why}`);
    };
    if (!row) return refuse("unknown, already used or expired");
    if (!this.deps.deviceAlive(row.tokenId)) return refuse("the device it was sent to was revoked");
    if (row.requestId !== requestId) return refuse("it was issued for another request");
    const call = this.deps.pendingCall(requestId);
    if (!call) throw new ProtocolError("not_found", `no pending permission request ${requestId}`);
    if (callSha256(call.tool, call.input) !== row.callSha256)
      return refuse("the waiting call is not the one shown");
    return { requestId, tokenId: row.tokenId };
  }
}
