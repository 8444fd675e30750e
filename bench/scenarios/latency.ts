import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Baseline } from "../baseline/index.js";
import { type Dist, dist, rssOf, rssSampler } from "../lib/common.js";
import { attachClients, closeAll, streamTurn } from "../lib/fleet.js";
import type { ServerProc } from "../lib/server-proc.js";
import type { Stream } from "../lib/workload.js";

const LOOP_RESOLUTION_MS = 1;

export interface LatencyCase {
  sessions: number;
  clients: number;
  /**
   * Whether the clients offered permessage-deflate: the web app (a browser) does, Pi Mobile does
   * not. Both are measured, each case with its own connections.
   */
  deflate: boolean;
  /** Client receive time minus the server's `ts`, ms. */
  server: Dist;
  /** In-process subscriber against pi's emit, ms. */
  baseline: Dist;
  /**
   * How late this process's own event loop ran (p99, ms) while it was receiving: the clients share
   * it with each other, so part of `server` is this and not the server's doing.
   */
  clientLoopDelayP99: number;
  /** Peak RSS growth while the turn streamed, per streaming session, bytes. */
  rssPerSession: { server: number; baseline: number };
}

/** A short turn on every session first: the first prompt of a session loads what pi loads lazily. */
export async function warmUp(server: ServerProc, baseline: Baseline, sessionIds: string[]): Promise<void> {
  const stream: Stream = { tokens: 20, chunkSize: 4, delayMs: 0 };
  const clients = await attachClients(server.url, sessionIds, 1);
  try {
    await streamTurn(clients, stream);
  } finally {
    await closeAll(clients);
  }
  await baseline.call({ cmd: "stream", sessions: sessionIds.length, stream });
}

/**
 * Every session streams at an LLM's pace (not as fast as possible: that is the throughput figure),
 * each watched by `clients` separate connections. The baseline runs the same sessions on the raw
 * SDK; it has no clients, so it runs once per session count.
 */
export async function measureLatency(
  server: ServerProc,
  baseline: Baseline,
  sessionIds: string[],
  cases: { sessions: number; clients: number; deflate: boolean }[],
  stream: Stream,
): Promise<LatencyCase[]> {
  const baselineBySessions = new Map<number, { latency: Dist; rssPerSession: number }>();
  for (const sessions of new Set(cases.map((c) => c.sessions))) {
    const before = rssOf(baseline.pid);
    const sampler = rssSampler(baseline.pid);
    const r = await baseline.call({ cmd: "stream", sessions, stream });
    const { peak } = sampler.stop();
    baselineBySessions.set(sessions, { latency: r.latency, rssPerSession: (peak - before) / sessions });
  }
  const out: LatencyCase[] = [];
  for (const { sessions, clients, deflate } of cases) {
    const attached = await attachClients(server.url, sessionIds.slice(0, sessions), clients, {
      perMessageDeflate: deflate,
    });
    try {
      // Settles what connecting did (its garbage, the new sockets' first frames) before measuring.
      await streamTurn(attached, { tokens: 10, chunkSize: 4, delayMs: 0 });
      const before = rssOf(server.pid);
      const sampler = rssSampler(server.pid);
      const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
      loop.enable();
      const r = await streamTurn(attached, stream);
      loop.disable();
      const { peak } = sampler.stop();
      const b = baselineBySessions.get(sessions);
      if (!b) throw new Error("baseline case missing");
      out.push({
        sessions,
        clients,
        deflate,
        server: dist(r.latencies),
        baseline: b.latency,
        // The histogram records whole timer intervals: what exceeds the interval is the delay.
        clientLoopDelayP99: Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
        rssPerSession: { server: (peak - before) / sessions, baseline: b.rssPerSession },
      });
    } finally {
      await closeAll(attached);
    }
  }
  return out;
}
