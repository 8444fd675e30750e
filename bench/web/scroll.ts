/**
 * A 2,000-message session scrolled from its first message to its last on the phone, CPU 4× slower:
 * the chat's scroller moves 200 px every animation frame (12,000 px/s at 60 Hz, faster than a hard
 * fling on a phone, which tops out near 8,000 CSS px/s) and every frame's length is taken from
 * requestAnimationFrame deltas, and from Chromium's long-animation-frame entries (which also see
 * the work a frame did before it was shown).
 */
import type { Browser, BrowserContext } from "playwright-core";
import { phoneContext, throttle } from "./browser.js";
import { fling, TO_TOP } from "./page-scripts.js";

const STEP = 200;

interface Fling {
  frames: number;
  scrolledPx: number;
  maxFrameMs: number;
  /** Which frame was the longest (0: the first, whose delta includes starting the fling). */
  maxFrameAt: number;
  p95FrameMs: number;
  framesOver50: number;
  longAnimationFrames: number;
  maxLongAnimationFrameMs: number;
  maxRenderedItems: number;
  /** Whether the fling came to rest at the bottom; if not, the scroller's last frames. */
  reachedEnd: boolean;
  endState: string;
}

export interface ScrollResult extends Fling {
  messages: number;
  loadMs: number;
  /** The same fling over a static page as tall: what the machine and the browser cost without the app. */
  floor: Fling;
}

async function floor(browser: Browser, px: number): Promise<Fling> {
  const context = await phoneContext(browser);
  try {
    const page = await context.newPage();
    await page.setContent(
      `<div id="s" style="height:100vh;overflow:auto"><div style="height:${px}px;background:linear-gradient(#eee,#345)"></div></div>`,
    );
    await throttle(page, false);
    return (await page.evaluate(fling("#s", STEP, false))) as Fling;
  } finally {
    await context.close();
  }
}

export async function scrollLong(
  browser: Browser,
  base: string,
  sessionId: string,
  messages: number,
  state: Awaited<ReturnType<BrowserContext["storageState"]>>,
): Promise<ScrollResult> {
  const context = await phoneContext(browser, state);
  try {
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${base}/app/#/s/${sessionId}`);
    await page.locator(".messages .msg").first().waitFor({ timeout: 120_000 });
    await page.getByText("Loading the conversation…").waitFor({ state: "detached", timeout: 120_000 });
    const loadMs = Date.now() - t0;
    await throttle(page, false);
    // From the top: the app opens a chat at its end.
    await page.evaluate(TO_TOP);
    const app = (await page.evaluate(fling(".messages", STEP, true))) as Fling;
    return { messages, loadMs, ...app, floor: await floor(browser, app.scrolledPx) };
  } finally {
    await context.close();
  }
}
