/**
 * The typed client over the browser's own WebSocket, for the web app. Browsers cannot set headers
 * on an upgrade, so the token always travels in hello; TLS pinning is the browser's business.
 */
import { RpcClient, rpcUrl, type HelloOptions, type Verify } from "./core.js";

export { IdentityError, RpcError, type AnyEvent, type TypedEvent } from "./core.js";

export interface BrowserConnectOptions extends HelloOptions {
  requestTimeoutMs?: number;
  /** Checks the hello signature; the app passes WebCrypto's Ed25519 (or a fallback). */
  verify: Verify;
}

export class BrowserClient extends RpcClient {
  private constructor(
    readonly socket: WebSocket,
    requestTimeoutMs: number,
  ) {
    super(
      {
        isOpen: () => socket.readyState === WebSocket.OPEN,
        send: (text) => socket.send(text),
        close: (code, reason) => socket.close(code, reason),
        // Browsers have no abortive close; a normal close without waiting is the closest.
        terminate: () => socket.close(),
      },
      requestTimeoutMs,
    );
    socket.addEventListener("message", (e) => {
      if (typeof e.data === "string") this.receive(e.data);
    });
    socket.addEventListener("close", (e) => this.closedWith(e.code, e.reason));
  }

  static async connect(url: string, opts: BrowserConnectOptions): Promise<BrowserClient> {
    const socket = new WebSocket(rpcUrl(url));
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error("could not reach the server")), { once: true });
      socket.addEventListener(
        "close",
        (e) => reject(new Error(`connection closed (${e.code} ${e.reason})`)),
        { once: true },
      );
    });
    const client = new BrowserClient(socket, opts.requestTimeoutMs ?? 60_000);
    await client.sayHello(opts, opts.verify);
    return client;
  }
}
