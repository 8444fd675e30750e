import { connect, constants, type ClientHttp2Session, type OutgoingHttpHeaders } from "node:http2";
import type { Logger } from "pino";

export const APNS_ORIGINS = {
  production: "https://api.push.apple.com",
  development: "https://api.sandbox.push.apple.com",
} as const;

export interface ApnsResponse {
  status: number;
  /** Apple's `reason` for a refusal (`Unregistered`, `BadDeviceToken`, …). */
  reason: string | undefined;
  apnsId: string | undefined;
}

export interface ApnsClientOptions {
  origin: string;
  /** Extra trusted CA certificates (PEM), for a test's own server; default Node's. */
  ca?: string | Buffer;
  log: Logger;
  timeoutMs?: number;
}

/**
 * One long-lived HTTP/2 connection to APNs, as Apple asks: opened on the first request and again
 * after Apple's GOAWAY, an error or an idle close.
 */
export class ApnsClient {
  private session: ClientHttp2Session | undefined;

  constructor(private readonly opts: ApnsClientOptions) {}

  private connection(): ClientHttp2Session {
    const live = this.session;
    if (live && !live.closed && !live.destroyed) return live;
    const s = connect(this.opts.origin, this.opts.ca === undefined ? {} : { ca: this.opts.ca });
    const drop = (): void => {
      if (this.session === s) this.session = undefined;
    };
    s.on("goaway", (code: number) => {
      this.opts.log.info({ code }, "APNs closed the connection (GOAWAY); the next push reconnects");
      drop();
    });
    s.on("error", (err: Error) => {
      this.opts.log.warn({ err: err.message }, "APNs connection failed");
      drop();
    });
    s.on("close", drop);
    // Waiting for the next notification never keeps the process alive.
    s.unref();
    this.session = s;
    return s;
  }

  /** POST /3/device/<token>; rejects on a network failure or timeout (a retryable one). */
  post(deviceToken: string, headers: OutgoingHttpHeaders, body: string): Promise<ApnsResponse> {
    const session = this.connection();
    return new Promise((resolve, reject) => {
      const req = session.request({
        ...headers,
        [constants.HTTP2_HEADER_METHOD]: "POST",
        [constants.HTTP2_HEADER_PATH]: `/3/device/${deviceToken}`,
        "content-type": "application/json",
      });
      req.setTimeout(this.opts.timeoutMs ?? 10_000, () => {
        req.close(constants.NGHTTP2_CANCEL);
        reject(new Error("APNs did not answer in time"));
      });
      let status = 0;
      let apnsId: string | undefined;
      const chunks: Buffer[] = [];
      req.on("response", (h) => {
        status = Number(h[constants.HTTP2_HEADER_STATUS]);
        const id = h["apns-id"];
        apnsId = typeof id === "string" ? id : undefined;
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("end", () => {
        let reason: string | undefined;
        const text = Buffer.concat(chunks).toString("utf8");
        if (text) {
          try {
            const r = (JSON.parse(text) as { reason?: unknown }).reason;
            reason = typeof r === "string" ? r : undefined;
          } catch {
            reason = undefined;
          }
        }
        if (status === 0) reject(new Error("APNs closed the stream without an answer"));
        else resolve({ status, reason, apnsId });
      });
      req.end(body);
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
