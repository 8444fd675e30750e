import type { Server } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "pino";

export interface AdmissionOptions {
  /** Sockets not (yet) authenticated by a WebSocket `hello`, over all addresses. */
  maxUnauthenticated: number;
  /** The same, per remote address. */
  maxUnauthenticatedPerAddress: number;
  /** Time a new socket has to deliver a complete HTTP request head (upgrades included). */
  upgradeTimeoutMs: number;
}

export interface AdmissionStats {
  /** Sockets dropped at accept because a cap was reached. */
  refused: number;
  /** Sockets dropped because no complete request head arrived in time. */
  timedOut: number;
}

interface Pending {
  address: string;
  timer: NodeJS.Timeout | undefined;
}

/** The key of a live TCP connection; the same for the raw socket and a TLS socket over it. */
function socketKey(s: Socket): string | undefined {
  if (s.remoteAddress === undefined || s.remotePort === undefined) return undefined;
  return `${s.remoteAddress}|${s.remotePort}`;
}

/**
 * Every accepted socket holds a file descriptor and some memory before anyone knows who it is.
 * Until it authenticates, it counts against a global and a per-address cap; past either it is
 * destroyed at accept, so one address (or a flood of half-sent requests) cannot use up the
 * process's descriptors and lock out the owner's phone. A socket that sends no complete request
 * head in time is destroyed too (Node's headersTimeout only starts with the first byte).
 */
export class ConnectionAdmission {
  private readonly pending = new Map<string, Pending>();
  private readonly perAddress = new Map<string, number>();
  readonly stats: AdmissionStats = { refused: 0, timedOut: 0 };
  private lastRefusalLog = 0;

  constructor(
    private readonly opts: AdmissionOptions,
    private readonly log: Logger,
  ) {}

  /** Hooks into the server's accepted sockets and parsed request heads. */
  install(server: Server): void {
    server.on("connection", (socket: Socket) => this.admit(socket));
    const seen = (req: { socket: Socket }): void => this.headReceived(req.socket);
    server.on("request", seen);
    server.on("upgrade", seen);
  }

  /** Unauthenticated sockets open now (for tests and status). */
  get unauthenticated(): number {
    return this.pending.size;
  }

  private admit(socket: Socket): void {
    const key = socketKey(socket);
    const address = socket.remoteAddress;
    if (key === undefined || address === undefined) {
      socket.destroy();
      return;
    }
    const here = this.perAddress.get(address) ?? 0;
    if (this.pending.size >= this.opts.maxUnauthenticated || here >= this.opts.maxUnauthenticatedPerAddress) {
      this.stats.refused++;
      const now = Date.now();
      // A flood would otherwise write one log line per refused socket.
      if (now - this.lastRefusalLog > 10_000) {
        this.lastRefusalLog = now;
        this.log.warn(
          { address, fromAddress: here, total: this.pending.size, refused: this.stats.refused },
          "too many unauthenticated connections; refusing new ones",
        );
      }
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => {
      this.stats.timedOut++;
      socket.destroy();
    }, this.opts.upgradeTimeoutMs);
    timer.unref();
    this.pending.set(key, { address, timer });
    this.perAddress.set(address, here + 1);
    socket.once("close", () => this.release(key));
  }

  private headReceived(socket: Socket): void {
    const key = socketKey(socket);
    const entry = key === undefined ? undefined : this.pending.get(key);
    if (entry?.timer) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
    }
  }

  /** The socket proved who it is: it no longer counts against the caps. */
  authenticated(socket: Socket): void {
    const key = socketKey(socket);
    if (key !== undefined) this.release(key);
  }

  private release(key: string): void {
    const entry = this.pending.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(key);
    const left = (this.perAddress.get(entry.address) ?? 1) - 1;
    if (left <= 0) this.perAddress.delete(entry.address);
    else this.perAddress.set(entry.address, left);
  }
}

/**
 * Calls `onExceeded` as soon as more than `limit` bytes have arrived on `socket`, counting from
 * now; returns a function that stops counting. It watches the socket's documented `data` event, so
 * it fires while a large WebSocket frame is still being received, long before the WebSocket
 * library has buffered the whole frame (its maxPayload is the post-authentication hard cap).
 */
export function capIncomingBytes(socket: Socket, limit: number, onExceeded: () => void): () => void {
  let seen = 0;
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen > limit) {
      socket.removeListener("data", onData);
      onExceeded();
    }
  };
  socket.on("data", onData);
  return () => socket.removeListener("data", onData);
}
