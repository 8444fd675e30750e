import { type AnyEvent, type ConnectOptions, PiClient } from "../../src/client/client.js";
import { verifyEd25519 } from "../../src/protocol/invite.js";
import { now } from "./common.js";
import { inflateInline } from "./inline-inflate.js";
import { TOKEN } from "./server-proc.js";
import { promptFor, type Stream } from "./workload.js";

/**
 * The typed client as an app uses it: it offers permessage-deflate unless told not to. Where it is
 * negotiated, the client inflates inline (see inflateInline), before hello's answer arrives.
 */
export async function connect(url: string, opts: ConnectOptions = {}): Promise<PiClient> {
  const o = { token: TOKEN, clientName: "bench", requestTimeoutMs: 120_000, ...opts };
  const client = await PiClient.open(url, o);
  inflateInline(client.ws);
  await client.sayHello(o, verifyEd25519);
  return client;
}

/** Runs `fn` over `items` with at most `limit` in flight; past `deadline` (a now() time) no new item starts. */
export async function pool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
  deadline = Infinity,
): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && now() < deadline) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out.filter((r) => r !== undefined);
}

/**
 * Creates scratch sessions (no repo, so no git cost). A creating connection is attached to what it
 * creates, and a connection has a request rate and an attach limit (limits.maxRequestsPerSecond,
 * maxSessionsPerConnection): each connection makes a few and is closed, which detaches it.
 */
export async function createSessions(url: string, count: number, deadline = Infinity): Promise<string[]> {
  const perConnection = 25;
  const batches = Array.from({ length: Math.ceil(count / perConnection) }, (_, i) =>
    Math.min(perConnection, count - i * perConnection),
  );
  const made = await pool(
    batches,
    4,
    async (n) => {
      const creator = await connect(url);
      const ids: string[] = [];
      try {
        while (ids.length < n && now() < deadline) {
          ids.push((await creator.request("session.create", {})).session.id);
        }
      } finally {
        await creator.close();
      }
      return ids;
    },
    deadline,
  );
  return made.flat();
}

/** One client per (session, copy): `perSession` separate connections attached to each session. */
export interface Attached {
  sessionId: string;
  client: PiClient;
}

export async function attachClients(
  url: string,
  sessionIds: string[],
  perSession: number,
  opts: ConnectOptions = {},
): Promise<Attached[]> {
  const pairs = sessionIds.flatMap((sessionId) => Array.from({ length: perSession }, () => sessionId));
  // Below limits.maxUnauthenticatedPerAddress (16): every client connects from 127.0.0.1, and a
  // socket counts as unauthenticated until its hello is answered.
  return pool(pairs, 8, async (sessionId) => {
    const client = await connect(url, opts);
    await client.request("session.attach", { sessionId });
    return { sessionId, client };
  });
}

export async function closeAll(clients: Attached[]): Promise<void> {
  await Promise.all(clients.map((a) => a.client.close().catch(() => undefined)));
}

export interface TurnResult {
  /** Client receive time minus the event's server `ts`, ms, one per delivered event. */
  latencies: number[];
  /** Events delivered to all the clients together. */
  delivered: number;
  /** First prompt sent to the last client seeing the session go idle, ms. */
  wallMs: number;
}

function isIdle(e: AnyEvent): boolean {
  return e.type === "session_status" && e.payload.status === "idle";
}

/**
 * Every session streams `stream` at once; the first client of each session sends the prompt. Resolves
 * when every client has seen its session go idle, i.e. has received the whole turn.
 */
export async function streamTurn(
  clients: Attached[],
  stream: Stream,
  timeoutMs = 240_000,
): Promise<TurnResult> {
  const latencies: number[] = [];
  let delivered = 0;
  const offs: (() => void)[] = [];
  const done = clients.map(
    ({ client, sessionId }) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`turn on ${sessionId} timed out`)), timeoutMs);
        offs.push(
          client.onEvent((e) => {
            const received = now();
            if (e.sessionId !== sessionId) return;
            // A merged delta (a lagging or compressing connection's) delivers every delta it carries.
            const firstSeq = (e as { firstSeq?: number }).firstSeq;
            delivered += firstSeq === undefined ? 1 : e.seq - firstSeq + 1;
            const ts = (e as { ts?: number }).ts;
            if (ts !== undefined) latencies.push(received - ts);
            if (isIdle(e)) {
              clearTimeout(timer);
              resolve();
            }
          }),
        );
      }),
  );
  const t0 = now();
  const prompted = new Set<string>();
  await Promise.all(
    clients.map(async ({ client, sessionId }) => {
      if (prompted.has(sessionId)) return;
      prompted.add(sessionId);
      await client.request("prompt", { message: promptFor(stream) }, sessionId);
    }),
  );
  try {
    await Promise.all(done);
  } finally {
    for (const off of offs) off();
  }
  return { latencies, delivered, wallMs: now() - t0 };
}
