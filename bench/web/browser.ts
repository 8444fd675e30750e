/** Debian's Chromium as a phone: a 390-px viewport, touch, DPR 3, 4× slower CPU, a mobile network. */
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROME_FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];

export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: Number(process.env.BENCH_DPR ?? 3),
  isMobile: true,
  hasTouch: true,
  userAgent:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
} as const;

/** Chromium's CPU slowdown (4×, a mid-range phone); `--cpu <rate>` changes it to see what the machine adds. */
export let CPU_SLOWDOWN = 4;
export function setCpuSlowdown(rate: number): void {
  CPU_SLOWDOWN = rate;
}
/**
 * Lighthouse's "slow 4G" figures, applied per request by Chromium: 150 ms round trip, 1.6 Mbit/s
 * down, 750 kbit/s up.
 */
export const NETWORK = {
  offline: false,
  latency: 150,
  downloadThroughput: (1.6 * 1024 * 1024) / 8,
  uploadThroughput: (750 * 1024) / 8,
};

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: CHROME_FLAGS.filter((f) => f !== "--headless=new"),
  });
}

/** A new phone context; `state` carries a paired device's IndexedDB. Service workers are off: every load is cold. */
export async function phoneContext(
  browser: Browser,
  state?: Awaited<ReturnType<BrowserContext["storageState"]>>,
): Promise<BrowserContext> {
  return browser.newContext({ ...PHONE, serviceWorkers: "block", ...(state ? { storageState: state } : {}) });
}

export async function throttle(page: Page, network = true): Promise<CDPSession> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
  if (network) {
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", NETWORK);
  }
  return cdp;
}

/** Pairs a fresh context through the app's own pairing screen; returns its storage (IndexedDB included). */
export async function pairedState(
  browser: Browser,
  invite: string,
): Promise<Awaited<ReturnType<BrowserContext["storageState"]>>> {
  const context = await phoneContext(browser);
  const page = await context.newPage();
  await page.goto(invite);
  await page.getByLabel("Name of this device").fill(`bench ${Date.now()}`);
  await page.getByRole("button", { name: "Pair this device" }).click();
  await page.locator('[data-state="connected"]').waitFor();
  const state = await context.storageState({ indexedDB: true });
  await context.close();
  return state;
}
