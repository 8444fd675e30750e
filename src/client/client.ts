import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import WebSocket, { type ClientOptions } from "ws";
import { verifyEd25519 } from "../protocol/invite.js";
import { IdentityError, RpcClient, rpcUrl, type HelloOptions } from "./core.js";

export { IdentityError, RpcError, type AnyEvent, type TypedEvent } from "./core.js";

export interface ConnectOptions extends HelloOptions {
  /** Reject pending requests after this long (default 60 s). */
  requestTimeoutMs?: number;
  /** wss:// only: accept exactly the certificate with this SHA-256 (hex, from the invite) instead of a CA chain. */
  tlsFingerprint?: string;
  /** Offer permessage-deflate on the upgrade (default true, as browsers do). */
  perMessageDeflate?: boolean;
}

/** Typed client for the /rpc WebSocket on Node, over `ws` (the protocol itself lives in core.ts). */
export class PiClient extends RpcClient {
  private constructor(
    readonly ws: WebSocket,
    requestTimeoutMs: number,
  ) {
    super(
      {
        isOpen: () => ws.readyState === WebSocket.OPEN,
        send: (text) => ws.send(text),
        close: (code, reason) => ws.close(code, reason),
        terminate: () => ws.terminate(),
      },
      requestTimeoutMs,
    );
    ws.on("message", (data) => this.receive(String(data)));
    ws.on("close", (code, reason) => this.closedWith(code, String(reason)));
  }

  /** Opens the socket and performs `hello`. */
  static async connect(url: string, opts: ConnectOptions = {}): Promise<PiClient> {
    const client = await PiClient.open(url, opts);
    await client.sayHello(opts, verifyEd25519);
    return client;
  }

  /** Opens the socket without saying hello (for callers that want to drive it themselves). */
  static open(url: string, opts: ConnectOptions = {}): Promise<PiClient> {
    const wsUrl = rpcUrl(url);
    const headers: Record<string, string> =
      opts.tokenInHeader && opts.token !== undefined ? { Authorization: `Bearer ${opts.token}` } : {};
    const pin = opts.tlsFingerprint?.replace(/:/g, "").toLowerCase();
    const ws = new WebSocket(wsUrl, {
      headers,
      perMessageDeflate: opts.perMessageDeflate ?? true,
      ...(pin
        ? {
            rejectUnauthorized: false,
            // Checked when the TLS handshake completes, before the upgrade request leaves.
            createConnection: ((options: ConnectionOptions) => {
              const socket = tlsConnect({ ...options, rejectUnauthorized: false });
              socket.once("secureConnect", () => {
                const got = socket.getPeerCertificate().fingerprint256?.replace(/:/g, "").toLowerCase();
                if (got !== pin)
                  socket.destroy(
                    new IdentityError(`TLS certificate fingerprint ${got} is not the pinned one`),
                  );
              });
              return socket;
            }) as unknown as ClientOptions["createConnection"],
          }
        : {}),
    });
    return new Promise((resolve, reject) => {
      if (pin) {
        // No CA vouches for a self-signed certificate: the pinned fingerprint is the trust anchor.
        ws.once("upgrade", (res) => {
          const cert = (res.socket as TLSSocket).getPeerCertificate?.();
          const got = cert?.fingerprint256?.replace(/:/g, "").toLowerCase();
          if (got !== pin) {
            ws.terminate();
            reject(
              new IdentityError(
                `TLS certificate fingerprint ${got ?? "(none)"} does not match the pinned one`,
              ),
            );
          }
        });
      }
      ws.once("open", () => resolve(new PiClient(ws, opts.requestTimeoutMs ?? 60_000)));
      ws.once("error", reject);
    });
  }
}
