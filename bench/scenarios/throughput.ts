import type { Baseline } from "../baseline/index.js";
import { cpuSecondsOf, dist, rssSampler } from "../lib/common.js";
import { attachClients, closeAll, streamTurn } from "../lib/fleet.js";
import type { ServerProc } from "../lib/server-proc.js";
import type { Stream } from "../lib/workload.js";

export interface ThroughputSide {
  eventsPerSec: number;
  cpuSecPer1000: number;
  delivered: number;
}

export interface Throughput {
  sessions: number;
  clients: number;
  /** The clients offered permessage-deflate (the typed client's and browsers' default). */
  deflate: boolean;
  tokens: number;
  server: ThroughputSide;
  /** Only with one client per session: the raw SDK has no clients to fan out to. */
  baseline?: ThroughputSide;
  /**
   * Median over the rounds of server ÷ baseline, each round's pair measured back to back: a phase
   * of load on the machine then weighs on both sides of one ratio, not on one side of the medians.
   */
  ratio?: { eventsPerSec: number; cpuSecPer1000: number };
  /**
   * Peak RSS of each process over its counted rounds, bytes: the server's with every client
   * attached, the raw SDK's streaming the same number of sessions (it has no clients).
   */
  peakRss: { server: number; baseline: number };
}

function side(delivered: number, wallMs: number, cpuSec: number): ThroughputSide {
  return { eventsPerSec: delivered / (wallMs / 1000), cpuSecPer1000: (cpuSec / delivered) * 1000, delivered };
}

/** Median of each figure over the rounds: rounds alternate server and baseline, so both see the same noise. */
function medianSide(sides: ThroughputSide[]): ThroughputSide {
  const mid = (f: (s: ThroughputSide) => number): number => dist(sides.map(f)).p50;
  return {
    eventsPerSec: mid((s) => s.eventsPerSec),
    cpuSecPer1000: mid((s) => s.cpuSecPer1000),
    delivered: mid((s) => s.delivered),
  };
}

/**
 * Saturation: the fake LLM sends each answer as fast as it can (one character per chunk, no delay),
 * on several sessions at once. CPU is read from /proc for both processes alike.
 */
export async function measureThroughput(
  server: ServerProc,
  baseline: Baseline,
  sessionIds: string[],
  opts: { sessions: number; clients: number; tokens: number; rounds: number; deflate: boolean },
): Promise<Throughput> {
  const stream: Stream = { tokens: opts.tokens, chunkSize: 1, delayMs: 0 };
  const servers: ThroughputSide[] = [];
  const baselines: ThroughputSide[] = [];
  const peakRss = { server: 0, baseline: 0 };
  const attached = await attachClients(server.url, sessionIds.slice(0, opts.sessions), opts.clients, {
    perMessageDeflate: opts.deflate,
  });
  try {
    // An uncounted round first: the saturation path (one-character chunks, no pauses) is JIT-compiled
    // and its buffers grown here, on both sides.
    await streamTurn(attached, stream);
    if (opts.clients === 1) await baseline.call({ cmd: "stream", sessions: opts.sessions, stream });
    for (let round = 0; round < opts.rounds; round++) {
      let cpu0 = cpuSecondsOf(server.pid);
      let sampler = rssSampler(server.pid);
      const r = await streamTurn(attached, stream);
      peakRss.server = Math.max(peakRss.server, sampler.stop().peak);
      servers.push(side(r.delivered, r.wallMs, cpuSecondsOf(server.pid) - cpu0));
      cpu0 = cpuSecondsOf(baseline.pid);
      sampler = rssSampler(baseline.pid);
      const b = await baseline.call({ cmd: "stream", sessions: opts.sessions, stream });
      peakRss.baseline = Math.max(peakRss.baseline, sampler.stop().peak);
      // With fan-out the raw SDK's round is there for its memory only: it has no clients to deliver to.
      if (opts.clients === 1) baselines.push(side(b.delivered, b.wallMs, cpuSecondsOf(baseline.pid) - cpu0));
    }
  } finally {
    await closeAll(attached);
  }
  const paired = (f: (s: ThroughputSide) => number): number =>
    dist(baselines.map((b, i) => f(servers[i] as ThroughputSide) / f(b))).p50;
  return {
    ...opts,
    server: medianSide(servers),
    peakRss,
    ...(baselines.length > 0 && {
      baseline: medianSide(baselines),
      ratio: { eventsPerSec: paired((x) => x.eventsPerSec), cpuSecPer1000: paired((x) => x.cpuSecPer1000) },
    }),
  };
}
