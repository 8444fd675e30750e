import { startBaseline } from "./baseline/index.js";
import { machine, type Machine, now } from "./lib/common.js";
import { createSessions } from "./lib/fleet.js";
import { type LlmThread, startLlmThread } from "./lib/llm-worker.js";
import { makeDataDir, spawnServer } from "./lib/server-proc.js";
import type { Stream } from "./lib/workload.js";
import { type LatencyCase, measureLatency, warmUp } from "./scenarios/latency.js";
import { measureThroughput, type Throughput } from "./scenarios/throughput.js";
import {
  type ConnectionMemory,
  type IdleRow,
  measureConnectionMemory,
  measureIdleMemory,
  measureNeverReading,
  type NeverReading,
} from "./scenarios/memory.js";
import { measureResume, type ResumeRow } from "./scenarios/resume.js";
import {
  type CreateTiming,
  measureCreate,
  measureSdkStartup,
  measureServerStartup,
  measureStartupSplit,
  type StartupSplit,
} from "./scenarios/startup.js";
import { measureWire, type Wire } from "./scenarios/wire.js";
import { measureSearch, type SearchBench } from "./scenarios/search.js";

export interface Sizes {
  startupReps: number;
  createReps: number;
  latencySessions: number[];
  latencyClients: number[];
  /** An LLM's pace: the latency a user feels is measured under load a user would cause. */
  latencyStream: Stream;
  throughput: { sessions: number; tokens: number; rounds: number };
  fanoutClients: number;
  idleSessions: number[];
  /** Time allowed for creating the idle sessions; past it the figure is for as many as were made. */
  idleBudgetMs: number;
  neverReadingTokens: number;
  /** Connections opened at once to weigh one connection, plain and with permessage-deflate. */
  memoryConnections: number;
  resumeMissed: number[];
  resumeReps: number;
  wireTokens: number;
  /** Sessions of 20 messages in the state.db sessions.search is timed on. */
  searchSessions: number;
}

export const FULL: Sizes = {
  startupReps: 3,
  createReps: 5,
  latencySessions: [1, 20, 100],
  latencyClients: [1, 3],
  latencyStream: { tokens: 400, chunkSize: 4, delayMs: 15 },
  throughput: { sessions: 8, tokens: 5000, rounds: 5 },
  fanoutClients: 3,
  idleSessions: [100, 1000],
  idleBudgetMs: 60_000,
  neverReadingTokens: 10_000,
  memoryConnections: 200,
  resumeMissed: [1000, 10_000],
  resumeReps: 3,
  wireTokens: 1000,
  searchSessions: 10_000,
};

/** A smoke run: every figure, small sizes, about a minute. */
export const QUICK: Sizes = {
  ...FULL,
  startupReps: 1,
  createReps: 2,
  latencySessions: [1, 20],
  latencyStream: { tokens: 100, chunkSize: 4, delayMs: 15 },
  throughput: { sessions: 4, tokens: 2000, rounds: 1 },
  idleSessions: [20, 100],
  neverReadingTokens: 2000,
  resumeMissed: [200, 1000],
  resumeReps: 1,
  searchSessions: 1000,
};

export interface Results {
  machine: Machine;
  sizes: Sizes;
  /** sdkMs: a node process that loads the SDK and is ready to create sessions (the baseline). */
  startup: { serverMs: number; sdkMs: number; split: StartupSplit };
  create: { server: CreateTiming; baseline: CreateTiming };
  latency: LatencyCase[];
  throughput: Throughput;
  throughputDeflate: Throughput;
  fanout: Throughput;
  idle: IdleRow[];
  connectionMemory: ConnectionMemory;
  neverReading: NeverReading;
  resume: ResumeRow[];
  wire: Wire;
  search: SearchBench;
  wallSeconds: number;
}

export interface RunOptions {
  log?: (line: string) => void;
  /** Extra node flags for the main server process, e.g. --cpu-prof. */
  serverNodeArgs?: string[];
}

/**
 * Runs every scenario against the built server (a child process) and the raw SDK (another), with
 * the fake LLM and the clients in this process. Heavy scenarios never overlap.
 */
export async function runBench(sizes: Sizes, opts: RunOptions = {}): Promise<Results> {
  const log = opts.log ?? (() => undefined);
  const t0 = now();
  const llm = await startLlmThread();
  const cleanup: (() => Promise<void>)[] = [];
  try {
    log("start-up");
    const startup = {
      serverMs: await measureServerStartup(llm, sizes.startupReps),
      sdkMs: await measureSdkStartup(llm, sizes.startupReps),
      split: await measureStartupSplit(sizes.startupReps),
    };

    // The main server runs with the shipped limits: only the session count is raised.
    const maxLatency = Math.max(...sizes.latencySessions, sizes.throughput.sessions);
    const server = await spawnServer(makeDataDir(llm, { maxSessions: maxLatency + 50 }), {
      nodeArgs: opts.serverNodeArgs,
    });
    cleanup.push(() => server.stop());
    const baseline = await startBaseline(makeDataDir(llm));
    cleanup.push(() => baseline.stop());
    const ids = await createSessions(server.url, maxLatency);
    await warmUp(server, baseline, ids);

    log("session.create → first event");
    const create = await measureCreate(server, baseline, sizes.createReps);

    log("added latency");
    // Plain clients (Pi Mobile) and clients that offer permessage-deflate (browsers, the typed client).
    const cases = sizes.latencySessions.flatMap((sessions) =>
      sizes.latencyClients.flatMap((clients) =>
        [false, true].map((deflate) => ({ sessions, clients, deflate })),
      ),
    );
    const latency = await measureLatency(server, baseline, ids, cases, sizes.latencyStream);

    log("throughput");
    // Plain frames (as Pi Mobile gets them): what the relay itself costs per event.
    const throughput = await measureThroughput(server, baseline, ids, {
      ...sizes.throughput,
      clients: 1,
      deflate: false,
    });
    // permessage-deflate, as browsers and the typed client negotiate it: one zlib call per frame.
    const throughputDeflate = await measureThroughput(server, baseline, ids, {
      ...sizes.throughput,
      clients: 1,
      deflate: true,
    });
    const fanout = await measureThroughput(server, baseline, ids, {
      ...sizes.throughput,
      rounds: 1,
      clients: sizes.fanoutClients,
      deflate: true,
    });

    log("wire bytes");
    const plainServer = await spawnServer(makeDataDir(llm, { maxSessions: 20 }), { timestamps: false });
    cleanup.push(() => plainServer.stop());
    const wire = await measureWire(plainServer.url, baseline, sizes.wireTokens);

    log("never-reading client");
    const neverReading = await measureNeverReading(server, sizes.neverReadingTokens);
    await stopAll(cleanup);

    log("idle memory");
    const { idle, connectionMemory } = await idleMemory(llm, sizes);
    log("resume");
    const replay = await resume(llm, sizes);
    log(`search over ${sizes.searchSessions} sessions`);
    const search = measureSearch(sizes.searchSessions);
    return {
      machine: machine(),
      sizes,
      startup,
      create,
      latency,
      throughput,
      throughputDeflate,
      fanout,
      idle,
      connectionMemory,
      neverReading,
      resume: replay,
      wire,
      search,
      wallSeconds: (now() - t0) / 1000,
    };
  } finally {
    await stopAll(cleanup);
    await llm.close();
  }
}

async function stopAll(cleanup: (() => Promise<void>)[]): Promise<void> {
  for (const stop of cleanup.splice(0).reverse()) await stop().catch(() => undefined);
}

/** Fresh processes with the shipped limits, so no earlier scenario's heap is counted. */
async function idleMemory(
  llm: LlmThread,
  sizes: Sizes,
): Promise<{ idle: IdleRow[]; connectionMemory: ConnectionMemory }> {
  const server = await spawnServer(makeDataDir(llm, { maxSessions: Math.max(...sizes.idleSessions) + 10 }));
  try {
    const baseline = await startBaseline(makeDataDir(llm));
    try {
      const idle = await measureIdleMemory(server, baseline, sizes.idleSessions, sizes.idleBudgetMs);
      return { idle, connectionMemory: await measureConnectionMemory(server, sizes.memoryConnections) };
    } finally {
      await baseline.stop();
    }
  } finally {
    await server.stop();
  }
}

/** The replay figure needs a buffer larger than the default (5000 events). */
async function resume(llm: LlmThread, sizes: Sizes): Promise<ResumeRow[]> {
  const replayBufferEvents = Math.max(...sizes.resumeMissed) + 1000;
  const server = await spawnServer(makeDataDir(llm, { replayBufferEvents }));
  try {
    return await measureResume(server, sizes.resumeMissed, sizes.resumeReps);
  } finally {
    await server.stop();
  }
}
