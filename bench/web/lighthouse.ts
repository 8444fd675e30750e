/**
 * Lighthouse 12.2.3 (its default mobile profile: a Moto G-class phone, simulated slow 4G and 4×
 * CPU) on the app's main screens. Chromium is started by chrome-launcher; the device is paired
 * first through the app itself in the same profile, and Lighthouse is told to keep that storage.
 */
import * as chromeLauncher from "chrome-launcher";
import lighthouse from "lighthouse";
import { chromium } from "playwright-core";
import { CHROME_FLAGS, CHROMIUM } from "./browser.js";
import { FORGET_SHELL } from "./page-scripts.js";

export interface LighthouseResult {
  screen: string;
  performance: number;
  accessibility: number;
  /** Failed audits that weigh on a score, for the report. */
  notes: string[];
  /** Lighthouse's simulated total blocking time and largest contentful paint. */
  tbtMs: number;
  lcpMs: number;
}

async function pairIn(port: number, invite: string): Promise<void> {
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`);
  try {
    const context = browser.contexts()[0]!;
    const page = await context.newPage();
    await page.goto(invite);
    await page.getByLabel("Name of this device").fill("lighthouse");
    await page.getByRole("button", { name: "Pair this device" }).click();
    await page.locator('[data-state="connected"]').waitFor();
    // A cached shell would flatter the load; the service worker goes, IndexedDB stays.
    await page.evaluate(FORGET_SHELL);
    await page.close();
  } finally {
    // Disconnects Playwright only; the browser stays up for Lighthouse.
    await browser.close();
  }
}

export async function runLighthouse(
  screens: { screen: string; url: string }[],
  invite: string,
): Promise<LighthouseResult[]> {
  const chrome = await chromeLauncher.launch({ chromePath: CHROMIUM, chromeFlags: CHROME_FLAGS });
  const out: LighthouseResult[] = [];
  try {
    await pairIn(chrome.port, invite);
    for (const { screen, url } of screens) {
      const result = await lighthouse(url, {
        port: chrome.port,
        output: "json",
        logLevel: "error",
        onlyCategories: ["performance", "accessibility"],
        disableStorageReset: true,
      });
      if (!result) throw new Error(`Lighthouse returned nothing for ${url}`);
      const { categories, audits } = result.lhr;
      const notes: string[] = [];
      for (const cat of [categories.performance, categories.accessibility]) {
        for (const ref of cat?.auditRefs ?? []) {
          const a = audits[ref.id];
          if (ref.weight > 0 && a && a.score !== null && a.score < 0.9)
            notes.push(`${a.id}${a.displayValue ? ` (${a.displayValue})` : ""}`);
        }
      }
      out.push({
        screen,
        performance: Math.round((categories.performance?.score ?? 0) * 100),
        accessibility: Math.round((categories.accessibility?.score ?? 0) * 100),
        notes,
        tbtMs: Math.round(audits["total-blocking-time"]?.numericValue ?? 0),
        lcpMs: Math.round(audits["largest-contentful-paint"]?.numericValue ?? 0),
      });
    }
  } finally {
    chrome.kill();
  }
  return out;
}
