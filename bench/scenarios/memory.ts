import type { Socket } from "node:net";
import type { Baseline } from "../baseline/index.js";
import { delay, now, rssOf, rssSampler } from "../lib/common.js";
import { attachClients, closeAll, connect, createSessions, streamTurn } from "../lib/fleet.js";
import type { ServerProc } from "../lib/server-proc.js";

export interface IdleRow {
  /** Sessions loaded when RSS was read (fewer than asked if creation ran out of time). */
  sessions: number;
  server: number;
  baseline: number;
}

/** RSS after V8 and the allocator have had a moment to settle; nothing else runs meanwhile. */
async function settled(pid: number): Promise<number> {
  await delay(1000);
  return rssOf(pid);
}

/**
 * Idle = created and never prompted: loaded in memory with pi's agent, tools and resource loader,
 * no history. Both processes are fresh, so nothing from other scenarios is counted.
 */
export async function measureIdleMemory(
  server: ServerProc,
  baseline: Baseline,
  counts: number[],
  budgetMs: number,
): Promise<IdleRow[]> {
  const deadline = now() + budgetMs;
  const rows: IdleRow[] = [{ sessions: 0, server: await settled(server.pid), baseline: rssOf(baseline.pid) }];
  let loaded = 0;
  for (const count of counts) {
    const ids = await createSessions(server.url, count - loaded, deadline);
    loaded += ids.length;
    await baseline.call({ cmd: "create", count: ids.length });
    rows.push({ sessions: loaded, server: await settled(server.pid), baseline: rssOf(baseline.pid) });
    if (loaded < count) break;
  }
  return rows;
}

export interface NeverReading {
  events: number;
  /** Peak server RSS during the same turn with only a reading client, bytes. */
  peakWithout: number;
  /** Peak server RSS during the turn with a reading and a never-reading client, bytes. */
  peakWith: number;
  /** Server RSS two seconds after the turn, the never-reading client still connected and paused. */
  after: number;
  /** The server closed the never-reading connection (its send queue limit). */
  dropped: boolean;
  closeCode?: number;
  /** Events the never-reading client got once it read again (all of the turn when not dropped). */
  receivedAfterResume: number;
}

/**
 * A phone that stops reading: its TCP socket is paused right after attach, so what the server sends
 * piles up in the kernel's buffers and then in the server. The same turn without it is the baseline.
 */
export async function measureNeverReading(server: ServerProc, tokens: number): Promise<NeverReading> {
  const stream = { tokens, chunkSize: 1, delayMs: 0 };
  const prompter = await connect(server.url);
  const { session } = await prompter.request("session.create", {});
  const attached = [{ client: prompter, sessionId: session.id }];
  try {
    let sampler = rssSampler(server.pid);
    const first = await streamTurn(attached, stream);
    const peakWithout = sampler.stop().peak;

    const reader = await connect(server.url);
    await reader.request("session.attach", { sessionId: session.id });
    let received = 0;
    let idle = false;
    reader.onEvent((e) => {
      received++;
      if (e.type === "session_status" && e.payload.status === "idle") idle = true;
    });
    (reader.ws as unknown as { _socket: Socket })._socket.pause();

    sampler = rssSampler(server.pid);
    await streamTurn(attached, stream);
    const peakWith = sampler.stop().peak;
    await delay(2000);
    const after = rssOf(server.pid);

    (reader.ws as unknown as { _socket: Socket })._socket.resume();
    const until = now() + 30_000;
    while (!idle && !reader.closed && now() < until) await delay(50);
    const closeCode = reader.closed?.code;
    await reader.close();
    return {
      events: first.delivered,
      peakWithout,
      peakWith,
      after,
      dropped: closeCode !== undefined,
      ...(closeCode !== undefined && { closeCode }),
      receivedAfterResume: received,
    };
  } finally {
    await prompter.close();
  }
}

export interface ConnectionMemory {
  connections: number;
  /** RSS growth per connection, bytes: each attached to one session and sent a short turn. */
  plain: number;
  deflate: number;
}

/**
 * What one phone costs the server while connected, with and without permessage-deflate: `count`
 * connections attach to one session and receive a short turn (so each deflate connection has its
 * zlib stream), then RSS is read once settled; they close before the other kind connects.
 */
export async function measureConnectionMemory(server: ServerProc, count: number): Promise<ConnectionMemory> {
  const [sessionId] = await createSessions(server.url, 1);
  if (!sessionId) throw new Error("no session");
  const perConnection = async (deflate: boolean): Promise<number> => {
    const before = await settled(server.pid);
    const clients = await attachClients(server.url, Array(count).fill(sessionId) as string[], 1, {
      perMessageDeflate: deflate,
    });
    try {
      await streamTurn(clients, { tokens: 50, chunkSize: 4, delayMs: 0 });
      return ((await settled(server.pid)) - before) / count;
    } finally {
      await closeAll(clients);
    }
  };
  const plain = await perConnection(false);
  const deflate = await perConnection(true);
  return { connections: count, plain, deflate };
}
