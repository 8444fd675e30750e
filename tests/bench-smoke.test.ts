import { describe, expect, it } from "vitest";
import { runBench, type Sizes } from "../bench/bench.js";
import { json, markdown, type TargetName, targets } from "../bench/report.js";

/** Every scenario at a size that proves it runs; nothing here says anything about speed. */
const TINY: Sizes = {
  startupReps: 1,
  createReps: 1,
  latencySessions: [1, 2],
  latencyClients: [1, 2],
  latencyStream: { tokens: 20, chunkSize: 4, delayMs: 2 },
  // Enough events that CPU time, read from /proc in 10 ms ticks, is not zero.
  throughput: { sessions: 2, tokens: 2000, rounds: 1 },
  fanoutClients: 2,
  idleSessions: [2, 4],
  idleBudgetMs: 60_000,
  neverReadingTokens: 200,
  memoryConnections: 4,
  resumeMissed: [20, 100],
  resumeReps: 1,
  wireTokens: 50,
  searchSessions: 20,
};

const TARGETS: TargetName[] = [
  "addedLatencyP99",
  "addedLatencyP99Plain",
  "cpuPerEventVsSdk",
  "cpuPerEventVsSdkDeflate",
  "deliveredEventsPerSec",
  "neverReadingClientAdds",
  "peakRssSaturatedVsSdk",
  "replay",
  "rssIdleSessions",
  "rssPerIdleSession",
  "startupToHealthy",
  "wireDeflateNoWindow",
  "wireDeflateWindow50",
  "wirePlainWindow50",
];

describe("npm run bench", () => {
  it("measures every figure against the real server and the raw SDK, and reports every target", async () => {
    const r = await runBench(TINY);

    // Each case with plain clients (as Pi Mobile connects) and with permessage-deflate (a browser).
    expect(r.latency.map((c) => [c.sessions, c.clients, c.deflate])).toEqual([
      [1, 1, false],
      [1, 1, true],
      [1, 2, false],
      [1, 2, true],
      [2, 1, false],
      [2, 1, true],
      [2, 2, false],
      [2, 2, true],
    ]);
    for (const c of r.latency) {
      expect(c.server.n).toBeGreaterThan(0);
      expect(Number.isFinite(c.server.p99) && Number.isFinite(c.baseline.p99)).toBe(true);
    }
    expect(r.throughput.baseline).toBeDefined();
    expect(r.idle.map((row) => row.sessions)).toEqual([0, 2, 4]);
    expect(r.resume.map((row) => [row.missed, row.verdict, row.replayed])).toEqual([
      [20, "ok", 20],
      [100, "ok", 100],
    ]);
    expect(r.neverReading.events).toBeGreaterThan(200);
    expect(r.wire.wireBytes).toBeGreaterThan(r.wire.textBytes);
    // A real ws client that offers permessage-deflate gets it, one that does not gets plain frames,
    // and a window makes fewer frames than no window.
    for (const row of r.wire.rows) expect(row.negotiated, JSON.stringify(row)).toBe(row.deflate);
    const cell = (deflate: boolean, ms: number) =>
      r.wire.rows.find((x) => x.deflate === deflate && x.coalesceMs === ms)?.frames ?? 0;
    expect(cell(false, 250)).toBeLessThan(cell(false, 0));
    expect(r.startup.split.sdkImportMs).toBeGreaterThan(0);
    expect(r.startup.split.ownImportMs).toBeGreaterThan(0);
    expect(r.fanout.peakRss.server).toBeGreaterThan(0);
    expect(r.connectionMemory.connections).toBe(4);
    expect(r.fanout.peakRss.baseline).toBeGreaterThan(0);

    const t = targets(r);
    expect(Object.keys(t).sort()).toEqual(TARGETS);
    for (const name of TARGETS) {
      expect(Number.isFinite(t[name].value), name).toBe(true);
      expect(typeof t[name].met, name).toBe("boolean");
    }

    const parsed = JSON.parse(json(r)) as { targets: Record<string, unknown>; machine: { cores: number } };
    expect(parsed.machine.cores).toBeGreaterThan(0);
    expect(parsed.targets.replay).toMatchObject({
      value: expect.any(Number),
      target: 100,
      met: expect.any(Boolean),
    });
    const table = markdown(r);
    expect(table).toContain("| figure | pi-server | raw SDK (baseline) | ratio | target |");
    expect(table.split("\n").filter((l) => l.startsWith("| ")).length).toBeGreaterThan(20);
  }, 240_000);
});
