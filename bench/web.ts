/**
 * npm run bench:web [-- --json] [-- --only shell,load,lighthouse,scroll] [-- --cpu 4]
 *
 * The web app's budgets (docs/web-app.md): shell JavaScript, first load to interactive on a
 * throttled phone, Lighthouse scores, and a 2,000-message session scrolled end to end. It runs the
 * built server on 127.0.0.1 (port 0) with the fake LLM. Progress goes to stderr, the table (or
 * JSON) to stdout; the exit code is 1 when a budget is missed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { machine } from "./lib/common.js";
import { ROOT } from "./lib/server-proc.js";
import { CHROMIUM, CPU_SLOWDOWN, launch, pairedState, setCpuSlowdown } from "./web/browser.js";
import { firstLoad } from "./web/first-load.js";
import { runLighthouse } from "./web/lighthouse.js";
import { scrollLong } from "./web/scroll.js";
import { startWebBenchServer } from "./web/setup.js";
import { shellSize } from "./web/shell-size.js";

const BUDGET = { shellGzipBytes: 150_000, interactiveMs: 2000, lighthouse: 95, frameMs: 50 };
const PARTS = ["shell", "load", "lighthouse", "scroll"] as const;

const { values } = parseArgs({
  options: { json: { type: "boolean", default: false }, only: { type: "string" }, cpu: { type: "string" } },
});
if (values.cpu) setCpuSlowdown(Number(values.cpu));
const only = new Set(values.only ? values.only.split(",") : PARTS);
const DIST_WEB = join(ROOT, "dist-web");
if (!existsSync(join(DIST_WEB, "index.html"))) throw new Error("dist-web/ is missing: run npm run build");
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);

const started = Date.now();
const log = (line: string): void =>
  void process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
const m = machine();
log(`pi-server bench:web on ${m.cpu}, ${m.cores} cores, Node ${m.node}, CPU slowdown ${CPU_SLOWDOWN}×`);

interface Row {
  what: string;
  value: string;
  budget: string;
  pass: boolean;
}
const rows: Row[] = [];
const results: Record<string, unknown> = {};
const kb = (n: number): string => `${(n / 1000).toFixed(1)} KB`;

if (only.has("shell")) {
  const s = shellSize(DIST_WEB);
  results.shell = s;
  rows.push({
    what: "app shell JS, gzipped (index.html's scripts)",
    value: kb(s.entryGzip),
    budget: `≤ ${kb(BUDGET.shellGzipBytes)}`,
    pass: s.entryGzip <= BUDGET.shellGzipBytes,
  });
  rows.push({
    what: "all JS of the build, gzipped (with the Ed25519 fallback)",
    value: kb(s.allGzip),
    budget: `≤ ${kb(BUDGET.shellGzipBytes)}`,
    pass: s.allGzip <= BUDGET.shellGzipBytes,
  });
  log(`shell: ${s.files.map((f) => `${f.name} ${kb(f.gzip)}`).join(", ")}; CSS ${kb(s.cssGzip)}`);
}

if (only.has("load") || only.has("lighthouse") || only.has("scroll")) {
  log("starting the server and writing a 2,000-message session");
  const server = await startWebBenchServer(2000);
  const browser = await launch();
  try {
    if (only.has("load")) {
      log("first load to interactive (3 cold loads per screen)");
      const loads = await firstLoad(browser, server.url, () => server.invite(), server.shortId);
      results.firstLoad = loads;
      for (const l of loads)
        rows.push({
          what: `first load to interactive: ${l.screen} (median of ${l.runsMs.map((r) => r.toFixed(0)).join(", ")} ms; a tap answered in ≤ ${l.tapMs} ms)`,
          value: `${l.medianMs.toFixed(0)} ms`,
          budget: `≤ ${BUDGET.interactiveMs} ms`,
          pass: l.medianMs <= BUDGET.interactiveMs,
        });
    }
    if (only.has("lighthouse")) {
      log("Lighthouse 12.2.3, mobile");
      const lh = await runLighthouse(
        [
          { screen: "pairing", url: server.invite() },
          { screen: "session list", url: `${server.url}/app/#/` },
          { screen: "chat", url: `${server.url}/app/#/s/${server.shortId}` },
        ],
        server.invite(),
      );
      results.lighthouse = lh;
      for (const r of lh) {
        const notes = r.notes.length ? ` — below 0.9: ${r.notes.join(", ")}` : "";
        rows.push({
          what: `Lighthouse performance: ${r.screen} (total blocking time ${r.tbtMs} ms, largest contentful paint ${r.lcpMs} ms)${notes}`,
          value: String(r.performance),
          budget: `≥ ${BUDGET.lighthouse}`,
          pass: r.performance >= BUDGET.lighthouse,
        });
        rows.push({
          what: `Lighthouse accessibility: ${r.screen}`,
          value: String(r.accessibility),
          budget: `≥ ${BUDGET.lighthouse}`,
          pass: r.accessibility >= BUDGET.lighthouse,
        });
      }
    }
    if (only.has("scroll")) {
      log(`scrolling a ${server.longCount}-message session`);
      const state = await pairedState(browser, server.invite());
      const s = await scrollLong(browser, server.url, server.longId, server.longCount, state);
      results.scroll = s;
      rows.push({
        what: `${s.messages}-message session, top to bottom: longest frame (rAF; frame ${s.maxFrameAt} of ${s.frames}, ${s.scrolledPx} px, p95 ${s.p95FrameMs.toFixed(1)} ms, ${s.framesOver50} frames over 50 ms, ≤ ${s.maxRenderedItems} items in the DOM)`,
        value: `${s.maxFrameMs.toFixed(1)} ms`,
        budget: `≤ ${BUDGET.frameMs} ms`,
        pass: s.maxFrameMs <= BUDGET.frameMs,
      });
      if (!s.reachedEnd)
        rows.push({
          what: `the fling came to rest at the end of the log (its last frames: ${s.endState})`,
          value: "no",
          budget: "yes",
          pass: false,
        });
      rows.push({
        what: `the same fling over a static page as tall (the machine's floor, no budget): p95 / longest frame (frame ${s.floor.maxFrameAt}; ${s.floor.framesOver50} frames over 50 ms, ${s.floor.longAnimationFrames} long animation frames)`,
        value: `${s.floor.p95FrameMs.toFixed(1)} / ${s.floor.maxFrameMs.toFixed(1)} ms`,
        budget: "",
        pass: true,
      });
      rows.push({
        what: `same scroll: long animation frames over 50 ms (longest ${s.maxLongAnimationFrameMs.toFixed(0)} ms)`,
        value: String(s.longAnimationFrames),
        budget: "0",
        pass: s.longAnimationFrames === 0,
      });
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

if (values.json)
  process.stdout.write(`${JSON.stringify({ machine: m, budget: BUDGET, rows, results }, null, 2)}\n`);
else {
  const lines = [
    "| measure | value | budget | |",
    "| --- | ---: | ---: | --- |",
    ...rows.map((r) => `| ${r.what} | ${r.value} | ${r.budget} | ${r.pass ? "pass" : "FAIL"} |`),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}
if (rows.some((r) => !r.pass)) process.exitCode = 1;
