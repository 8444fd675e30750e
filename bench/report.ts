import type { Results } from "./bench.js";
import { type Dist, MiB, round } from "./lib/common.js";
import type { LatencyCase } from "./scenarios/latency.js";

export interface Target {
  value: number;
  target: number;
  unit: string;
  /** How value compares with target: at most or at least. */
  kind: "max" | "min";
  met: boolean;
  /** Which measurement the value comes from. */
  from: string;
}

function target(value: number, limit: number, unit: string, kind: "max" | "min", from: string): Target {
  const met = Number.isFinite(value) && (kind === "max" ? value <= limit : value >= limit);
  return { value: round(value), target: limit, unit, kind, met, from };
}

/** The case a target names, or the closest one a smaller run has. */
function latencyCase(r: Results, sessions: number, clients: number, deflate: boolean): LatencyCase {
  const mode = r.latency.filter((c) => c.deflate === deflate);
  const exact = mode.find((c) => c.sessions === sessions && c.clients === clients);
  if (exact) return exact;
  const sorted = [...mode].sort((a, b) => b.sessions * b.clients - a.sessions * a.clients);
  const c = sorted.find((x) => x.sessions <= sessions && x.clients <= clients) ?? sorted[0];
  if (!c) throw new Error("no latency case");
  return c;
}

export type TargetName =
  | "addedLatencyP99"
  | "addedLatencyP99Plain"
  | "deliveredEventsPerSec"
  | "cpuPerEventVsSdk"
  | "cpuPerEventVsSdkDeflate"
  | "rssPerIdleSession"
  | "rssIdleSessions"
  | "neverReadingClientAdds"
  | "replay"
  | "startupToHealthy"
  | "peakRssSaturatedVsSdk"
  | "wireDeflateWindow50"
  | "wireDeflateNoWindow"
  | "wirePlainWindow50";

/** Wire bytes per 1,000 tokens of one matrix cell (NaN when the run did not measure it). */
export function wirePer1k(r: Results, deflate: boolean, coalesceMs: number): number {
  const row = r.wire.rows.find((x) => x.deflate === deflate && x.coalesceMs === coalesceMs);
  return row ? (row.bytes / r.wire.tokens) * 1000 : Number.NaN;
}

/** The added-latency figures' conditions (issue #16: latency targets are measured at coalesceMs 0). */
export const LATENCY_CONDITIONS = "coalesceMs 0";

/** How a latency case's clients connect: as Pi Mobile does, or as a browser and the typed client do. */
export const clientKind = (deflate: boolean): string => (deflate ? "deflate clients" : "plain clients");

/** Start-up may take this much more than the raw SDK's own start (issue #16). */
export const STARTUP_OVER_SDK_MS = 300;

/** Every target of issues #6 and #16 with the value this run measured for it. */
export function targets(r: Results): Record<TargetName, Target> {
  const lat = latencyCase(r, 20, 3, true);
  const latPlain = latencyCase(r, 20, 3, false);
  const idle0 = r.idle[0];
  const idleN = r.idle[r.idle.length - 1];
  if (!idle0 || !idleN) throw new Error("no idle memory rows");
  const perIdle = idleN.sessions > 0 ? (idleN.server - idle0.server) / idleN.sessions : Number.NaN;
  const replay = r.resume.reduce((a, b) => (b.missed > a.missed ? b : a));
  const fan = [r.fanout, r.throughputDeflate, r.throughput].reduce((a, b) =>
    b.server.eventsPerSec > a.server.eventsPerSec ? b : a,
  );
  return {
    // Both kinds of client: the web app negotiates permessage-deflate, Pi Mobile offers none.
    addedLatencyP99: target(
      lat.server.p99,
      2,
      "ms",
      "max",
      `${lat.sessions} sessions × ${lat.clients} clients, ${clientKind(true)}, ${LATENCY_CONDITIONS}`,
    ),
    addedLatencyP99Plain: target(
      latPlain.server.p99,
      2,
      "ms",
      "max",
      `${latPlain.sessions} sessions × ${latPlain.clients} clients, ${clientKind(false)}, ${LATENCY_CONDITIONS}`,
    ),
    deliveredEventsPerSec: target(
      fan.server.eventsPerSec,
      50_000,
      "events/s",
      "min",
      `${fan.sessions} sessions × ${fan.clients} client${fan.clients > 1 ? "s" : ""}, ${fan.deflate ? "permessage-deflate" : "plain frames"}, ${r.machine.cores} cores`,
    ),
    cpuPerEventVsSdk: target(
      r.throughput.ratio?.cpuSecPer1000 ?? Number.NaN,
      1.3,
      "× raw SDK",
      "max",
      `${r.throughput.sessions} sessions × 1 client at saturation, plain frames`,
    ),
    cpuPerEventVsSdkDeflate: target(
      r.throughputDeflate.ratio?.cpuSecPer1000 ?? Number.NaN,
      1.3,
      "× raw SDK",
      "max",
      `${r.throughputDeflate.sessions} sessions × 1 client at saturation, permessage-deflate`,
    ),
    rssPerIdleSession: target(perIdle / MiB, 1, "MiB", "max", `0 → ${idleN.sessions} idle sessions`),
    rssIdleSessions: target(idleN.server / 2 ** 30, 1.5, "GiB", "max", `${idleN.sessions} idle sessions`),
    neverReadingClientAdds: target(
      (r.neverReading.peakWith - r.neverReading.peakWithout) / MiB,
      50,
      "MiB",
      "max",
      `${r.neverReading.events}-event turn`,
    ),
    replay: target(replay.ms, 100, "ms", "max", `${replay.missed} missed events`),
    startupToHealthy: target(
      r.startup.serverMs,
      Math.round(r.startup.sdkMs + STARTUP_OVER_SDK_MS),
      "ms",
      "max",
      `process start → GET /health ok; target: raw SDK's start (${round(r.startup.sdkMs)} ms) + ${STARTUP_OVER_SDK_MS} ms`,
    ),
    peakRssSaturatedVsSdk: target(
      r.fanout.peakRss.server / r.fanout.peakRss.baseline,
      1.1,
      "× raw SDK",
      "max",
      `${r.fanout.sessions} sessions × ${r.fanout.clients} clients at saturation (raw SDK: the same sessions)`,
    ),
    wireDeflateWindow50: target(
      wirePer1k(r, true, 50),
      6000,
      "B",
      "max",
      "1,000 tokens, deflate, coalesceMs 50",
    ),
    wireDeflateNoWindow: target(
      wirePer1k(r, true, 0),
      10_000,
      "B",
      "max",
      "1,000 tokens, deflate, coalesceMs 0",
    ),
    wirePlainWindow50: target(
      wirePer1k(r, false, 50),
      30_000,
      "B",
      "max",
      "1,000 tokens, no deflate, coalesceMs 50",
    ),
  };
}

const ms = (x: number): string => `${round(x)} ms`;
const mib = (x: number): string => `${round(x / MiB)} MiB`;
const ratio = (a: number, b: number | undefined): string =>
  b === undefined || !Number.isFinite(a / b) || b === 0 ? "—" : `${round(a / b)}×`;
/** A median of per-round ratios, marked so it is not read as the ratio of the two medians shown. */
const paired = (x: number | undefined): string => (x === undefined ? "—" : `${round(x)}× (paired)`);
const dist3 = (d: Dist): string => `${round(d.p50)} / ${round(d.p99)} / ${round(d.max)} ms`;
const met = (t: Target): string =>
  `${t.kind === "max" ? "≤" : "≥"} ${t.target} ${t.unit}: ${t.met ? "**met**" : "**not met**"} (${t.value})`;

type Row = [figure: string, server: string, baseline: string, ratio: string, target: string];

/** The table for people: one row per figure, its raw-SDK baseline, the ratio and the target. */
export function markdown(r: Results): string {
  const t = targets(r);
  const rows: Row[] = [];
  for (const c of r.latency) {
    const target = c.deflate ? t.addedLatencyP99 : t.addedLatencyP99Plain;
    const isTarget = target.from.startsWith(
      `${c.sessions} sessions × ${c.clients} clients, ${clientKind(c.deflate)},`,
    );
    rows.push([
      `added latency p50 / p99 / max, ${c.sessions} session${c.sessions > 1 ? "s" : ""} × ${c.clients} client${c.clients > 1 ? "s" : ""}, ${clientKind(c.deflate)} (${c.server.n} events${c === r.latency[0] ? `; ${LATENCY_CONDITIONS}` : ""})`,
      dist3(c.server),
      dist3(c.baseline),
      "—",
      isTarget ? met(target) : "",
    ]);
  }
  rows.push([
    "… the benchmark's own event-loop delay p99 meanwhile, per case (clients share one thread: part of the figures above)",
    r.latency
      .map(
        (c) =>
          `${c.sessions}×${c.clients} ${c.deflate ? "deflate" : "plain"}: ${round(c.clientLoopDelayP99)}`,
      )
      .join(", ") + " ms",
    "—",
    "—",
    "",
  ]);
  const fo = r.fanout;
  const frames = (x: { deflate: boolean }): string => (x.deflate ? "permessage-deflate" : "plain frames");
  for (const tp of [r.throughput, r.throughputDeflate, fo]) {
    rows.push([
      `delivered events/s at saturation, ${tp.sessions} sessions × ${tp.clients} client${tp.clients > 1 ? "s" : ""}, ${frames(tp)}${tp.clients === 1 ? ` (median of ${r.sizes.throughput.rounds} rounds)` : ""}`,
      `${round(tp.server.eventsPerSec)}`,
      tp.baseline ? `${round(tp.baseline.eventsPerSec)}` : "—",
      tp.baseline ? paired(tp.ratio?.eventsPerSec) : "—",
      t.deliveredEventsPerSec.from.startsWith(
        `${tp.sessions} sessions × ${tp.clients} clients, ${frames(tp)}`,
      )
        ? met(t.deliveredEventsPerSec)
        : "",
    ]);
  }
  for (const tp of [r.throughput, r.throughputDeflate, fo]) {
    const cpuTarget =
      tp === r.throughput
        ? t.cpuPerEventVsSdk
        : tp === r.throughputDeflate
          ? t.cpuPerEventVsSdkDeflate
          : undefined;
    rows.push([
      `CPU seconds per 1,000 delivered events, ${tp.sessions} sessions × ${tp.clients} client${tp.clients > 1 ? "s" : ""}, ${frames(tp)}`,
      `${round(tp.server.cpuSecPer1000)} s`,
      tp.baseline ? `${round(tp.baseline.cpuSecPer1000)} s` : "—",
      tp.baseline ? paired(tp.ratio?.cpuSecPer1000) : "—",
      cpuTarget ? met(cpuTarget) : "",
    ]);
  }
  rows.push([
    `peak RSS at saturation, ${fo.sessions} sessions × ${fo.clients} clients, ${frames(fo)} (baseline: the same sessions streaming in the raw SDK)`,
    mib(fo.peakRss.server),
    mib(fo.peakRss.baseline),
    ratio(fo.peakRss.server, fo.peakRss.baseline),
    met(t.peakRssSaturatedVsSdk),
  ]);
  const idle0 = r.idle[0];
  for (const row of r.idle) {
    const isLast = row === r.idle[r.idle.length - 1];
    rows.push([
      `RSS with ${row.sessions} idle sessions (created, never prompted)`,
      mib(row.server),
      mib(row.baseline),
      ratio(row.server, row.baseline),
      isLast && row.sessions > 0 ? met(t.rssIdleSessions) : "",
    ]);
  }
  const last = r.idle[r.idle.length - 1];
  if (idle0 && last && last.sessions > 0) {
    rows.push([
      `RSS per idle session (0 → ${last.sessions})`,
      mib((last.server - idle0.server) / last.sessions),
      mib((last.baseline - idle0.baseline) / last.sessions),
      ratio(last.server - idle0.server, last.baseline - idle0.baseline),
      met(t.rssPerIdleSession),
    ]);
  }
  const cm = r.connectionMemory;
  rows.push([
    `RSS per connection (${cm.connections} at once, attached, after a short turn): plain / permessage-deflate`,
    `${round(cm.plain / 1024)} KiB / ${round(cm.deflate / 1024)} KiB`,
    "—",
    "—",
    "",
  ]);
  const streaming = r.latency.filter((c) => c.clients === 1 && c.deflate).at(-1);
  if (streaming) {
    rows.push([
      `RSS per streaming session (peak growth, ${streaming.sessions} sessions × 1 client)`,
      mib(streaming.rssPerSession.server),
      mib(streaming.rssPerSession.baseline),
      ratio(streaming.rssPerSession.server, streaming.rssPerSession.baseline),
      "",
    ]);
  }
  const nr = r.neverReading;
  rows.push([
    `peak RSS during a ${nr.events}-event turn with a never-reading client (baseline column: same turn without it)`,
    mib(nr.peakWith),
    mib(nr.peakWithout),
    ratio(nr.peakWith, nr.peakWithout),
    met(t.neverReadingClientAdds),
  ]);
  rows.push([
    "never-reading client: RSS 2 s after the turn / dropped by the server",
    `${mib(nr.after)} / ${nr.dropped ? `yes (close ${nr.closeCode})` : `no, got all ${nr.receivedAfterResume} events after resuming`}`,
    "—",
    "—",
    "",
  ]);
  for (const row of r.resume) {
    rows.push([
      `resume: attach {sinceSeq} → last of ${row.missed} replayed events (${row.verdict}, ${row.replayed})`,
      ms(row.ms),
      "—",
      "—",
      row === r.resume.reduce((a, b) => (b.missed > a.missed ? b : a)) ? met(t.replay) : "",
    ]);
  }
  rows.push([
    "start-up: process start → GET /health ok (baseline: node + SDK loaded)",
    ms(r.startup.serverMs),
    ms(r.startup.sdkMs),
    ratio(r.startup.serverMs, r.startup.sdkMs),
    `≤ SDK + ${STARTUP_OVER_SDK_MS} ms = ${t.startupToHealthy.target} ms: ${t.startupToHealthy.met ? "**met**" : "**not met**"} (${t.startupToHealthy.value})`,
  ]);
  const sp = r.startup.split;
  rows.push([
    "… of which node's own start / pi SDK import / pi-server's own imports after it (one process)",
    `${ms(sp.nodeMs)} / ${ms(sp.sdkImportMs)} / ${ms(sp.ownImportMs)}`,
    `${ms(sp.nodeMs)} / ${ms(sp.sdkImportMs)} / —`,
    "—",
    "",
  ]);
  rows.push([
    "session.create → response",
    ms(r.create.server.createMs),
    ms(r.create.baseline.createMs),
    ratio(r.create.server.createMs, r.create.baseline.createMs),
    "",
  ]);
  rows.push([
    "session.create → first event of a prompt sent right after",
    ms(r.create.server.firstEventMs),
    ms(r.create.baseline.firstEventMs),
    ratio(r.create.server.firstEventMs, r.create.baseline.firstEventMs),
    "",
  ]);
  const w = r.wire;
  const per1k = (b: number): string => `${round((b / w.tokens) * 1000)} B`;
  const wireTarget: Record<string, Target> = {
    "true:50": t.wireDeflateWindow50,
    "true:0": t.wireDeflateNoWindow,
    "false:50": t.wirePlainWindow50,
  };
  for (const row of w.rows) {
    const tt = wireTarget[`${row.deflate}:${row.coalesceMs}`];
    rows.push([
      `bytes on the wire per 1,000 tokens (${w.textBytes / w.tokens}-char tokens ${w.stream.delayMs} ms apart), ${row.deflate ? (row.negotiated ? "permessage-deflate" : "deflate offered, not negotiated") : "no compression"}, coalesceMs ${row.coalesceMs}: ${row.frames} frames (baseline: raw pi events as JSON)`,
      per1k(row.bytes),
      per1k(w.rawPiBytes),
      ratio(row.bytes, w.rawPiBytes),
      tt ? met(tt) : "",
    ]);
  }
  rows.push([`… the text itself`, per1k(w.textBytes), "—", "—", ""]);

  const sr = r.search;
  rows.push([
    `sessions.search index: ${sr.sessions} sessions, ${sr.messages} messages — fill / size`,
    `${round(sr.fillSeconds)} s / ${round(sr.dbMiB)} MiB`,
    "—",
    "—",
    "",
  ]);
  for (const q of sr.queries) {
    rows.push([`sessions.search p50 / p99: ${q.kind}`, `${ms(q.ms.p50)} / ${ms(q.ms.p99)}`, "—", "—", ""]);
  }

  const head = "| figure | pi-server | raw SDK (baseline) | ratio | target |\n|---|---|---|---|---|\n";
  const m = r.machine;
  return (
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; bench wall time ${round(r.wallSeconds)} s\n\n` +
    head +
    rows.map((row) => `| ${row.join(" | ")} |`).join("\n") +
    "\n"
  );
}

export function json(r: Results): string {
  return JSON.stringify(
    { machine: r.machine, wallSeconds: round(r.wallSeconds), targets: targets(r), results: r },
    null,
    2,
  );
}
