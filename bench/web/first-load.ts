/**
 * First load to interactive, on a cold phone (no HTTP cache, no service worker), 4× CPU slowdown
 * and the slow-4G network of browser.ts.
 *
 * "Interactive" here: the screen's content is in the DOM and painted (the pairing form with the
 * invite checked; the session list with the server's sessions, connected; the chat with its
 * history), and the main thread is free — if a long task is running at that moment, the end of
 * that task. Times are from navigation start. A real tap then shows the screen answers.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { pairedState, phoneContext, throttle } from "./browser.js";
import { INTERACTIVE_AT, PAINTED } from "./page-scripts.js";

export interface LoadResult {
  screen: string;
  runsMs: number[];
  medianMs: number;
  tapMs: number;
}

/**
 * Runs in the page before its own scripts: records long tasks and when `selector` first painted.
 * A string, not a function: tsx would wrap named inner functions in a helper the page lacks.
 */
function probe(selector: string): string {
  return `(() => {
    const bench = (window.__bench = { longTasks: [] });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) bench.longTasks.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
    let seen = false;
    // The frame that shows the change: after the next animation frame's paint.
    new MutationObserver(() => {
      if (seen || !document.querySelector(${JSON.stringify(selector)})) return;
      seen = true;
      requestAnimationFrame(() => setTimeout(() => (bench.painted = performance.now()), 0));
    }).observe(document, { subtree: true, childList: true, attributes: true });
  })();`;
}

async function interactiveAt(page: Page): Promise<number> {
  // Polled from here: waitForFunction would evaluate its string with eval, which the app's CSP forbids.
  const deadline = Date.now() + 60_000;
  while (!(await page.evaluate(PAINTED))) {
    if (Date.now() > deadline) throw new Error(`${page.url()} did not show its screen within 60 s`);
    await page.waitForTimeout(50);
  }
  // Long tasks are reported after they end; give a running one the time to finish.
  await page.waitForTimeout(500);
  return (await page.evaluate(INTERACTIVE_AT)) as number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(
  browser: Browser,
  screen: string,
  url: string,
  selector: string,
  tap: (page: Page) => Promise<void>,
  state?: Awaited<ReturnType<BrowserContext["storageState"]>>,
  runs = 3,
): Promise<LoadResult> {
  const runsMs: number[] = [];
  let tapMs = 0;
  for (let i = 0; i < runs; i++) {
    const context = await phoneContext(browser, state);
    const page = await context.newPage();
    await page.addInitScript(probe(selector));
    await throttle(page);
    await page.goto(url, { waitUntil: "commit" });
    runsMs.push(await interactiveAt(page));
    const t0 = Date.now();
    await tap(page);
    tapMs = Math.max(tapMs, Date.now() - t0);
    await context.close();
  }
  return { screen, runsMs, medianMs: median(runsMs), tapMs };
}

export async function firstLoad(
  browser: Browser,
  base: string,
  invite: () => string,
  shortId: string,
): Promise<LoadResult[]> {
  const out: LoadResult[] = [];
  const link = invite();
  out.push(
    await measure(browser, "pairing", link, 'form button[type="submit"]:not([disabled])', async (page) => {
      await page.getByLabel("Name of this device").tap();
      await page.keyboard.type("x");
    }),
  );
  const state = await pairedState(browser, invite());
  out.push(
    await measure(
      browser,
      "session list",
      `${base}/app/#/`,
      ".session-link",
      async (page) => {
        await page.getByRole("link", { name: "New session" }).tap();
        await page.getByRole("heading", { name: "New session" }).waitFor();
      },
      state,
    ),
  );
  out.push(
    await measure(
      browser,
      "chat",
      `${base}/app/#/s/${shortId}`,
      ".msg.assistant .md",
      async (page) => {
        await page.getByLabel("Message").tap();
        await page.keyboard.type("x");
      },
      state,
    ),
  );
  return out;
}
