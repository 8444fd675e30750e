import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTurn, startHarness, type Harness } from "./helpers/harness.js";
import { writeLongHistory } from "./helpers/long-session.js";
import { CHROMIUM, DIST_WEB, launchChromium, makeInviteLink, phone, serverApp } from "./helpers/web.js";

/** A 2,000-message session in the chat: only what is near the viewport is in the DOM. */

const ready = existsSync(CHROMIUM) && existsSync(join(DIST_WEB, "index.html"));
const VIEWPORT_HEIGHT = 844;
/** The log's own bound on rendered items (web/src/components/VirtualLog.tsx). */
const MAX_RENDERED = 120;

let h: Harness;
let browser: Browser;
let page: Page;
let problems: string[];
let sessionId: string;

/** Inside the phone's viewport (not merely in the DOM). */
async function onScreen(loc: Locator): Promise<void> {
  await loc.waitFor();
  await expect
    .poll(async () => {
      const box = await loc.boundingBox();
      return box !== null && box.y + box.height > 0 && box.y < VIEWPORT_HEIGHT;
    })
    .toBe(true);
}

/**
 * Moves the log `dy` px per animation frame for `frames` frames, faster than the log mounts new
 * messages (VirtualLog.tsx: two per frame); then returns the first mounted message at or below the
 * viewport's top, where it is, and how many placeholders wait.
 */
const FLING = (dy: number, frames: number): string => `(async () => {
  const el = document.querySelector(".messages");
  for (let i = 0; i < ${frames}; i++) {
    el.scrollTop += ${dy};
    await new Promise((r) => requestAnimationFrame(r));
  }
  const top = el.getBoundingClientRect().top;
  const anchor = [...el.querySelectorAll("[data-item]:not([data-placeholder])")].find(
    (n) => n.getBoundingClientRect().top >= top,
  );
  return {
    key: anchor.dataset.item,
    y: anchor.getBoundingClientRect().top - top,
    placeholders: el.querySelectorAll("[data-placeholder]").length,
  };
})()`;

/** Where the message `key` is now, from the log's top; null when it left the DOM. */
const AT = (key: string): string => `(() => {
  const el = document.querySelector(".messages");
  const node = el.querySelector('[data-item="${key}"]');
  return node ? node.getBoundingClientRect().top - el.getBoundingClientRect().top : null;
})()`;

async function placeholders(): Promise<number> {
  return page.locator(".messages [data-placeholder]").count();
}

async function rendered(): Promise<number> {
  return page.locator(".messages [data-item]").count();
}

describe.skipIf(!ready)("web app, a 2,000-message session", () => {
  beforeAll(async () => {
    h = await startHarness();
    const owner = await h.connect();
    sessionId = (await owner.request("session.create", { repoId: "demo", name: "long session" })).sessionId;
    await runTurn(h, owner, sessionId, "Start", { kind: "text", text: "Starting." });
    const { sessionFile } = await owner.request("get_state", {}, sessionId);
    const { messages } = await owner.request("get_messages", { raw: true }, sessionId);
    const last = messages[messages.length - 1] as Record<string, unknown>;
    await owner.close();
    // 499 exchanges of 4 messages after the first 2: 1,998 messages, then the server loads them anew.
    writeLongHistory(sessionFile!, 499, {
      api: last.api,
      provider: last.provider,
      model: last.model,
      usage: last.usage,
    });
    await h.restart();
    const check = await h.connect();
    expect((await check.request("get_messages", { limit: 1 }, sessionId)).total).toBe(1998);
    browser = await launchChromium();
    ({ page, problems } = await phone(browser));
    await page.goto(makeInviteLink(h, serverApp(h)));
    await page.getByRole("button", { name: "Pair this device" }).click();
    await page.locator('[data-state="connected"]').waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it("opens at the last message with a bounded number of messages in the DOM", async () => {
    await page.goto(`${serverApp(h).url}/app/#/s/${sessionId}`);
    await page.getByText("Loading the conversation…").waitFor({ state: "detached" });
    await onScreen(page.locator(".msg.assistant", { hasText: "Step 498:" }));
    const n = await rendered();
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(MAX_RENDERED);
    expect(await page.getByText("Round 0: run the tests").count()).toBe(0);
  });

  it("scrolls to the first message and back to the last", async () => {
    await page.getByRole("log", { name: "Conversation" }).focus();
    await page.keyboard.press("Home");
    await onScreen(page.getByText("Round 0: run the tests", { exact: true }));
    await onScreen(page.getByText("Start", { exact: true }));
    expect(await rendered()).toBeLessThanOrEqual(MAX_RENDERED);
    expect(await page.getByText("Step 498:").count()).toBe(0);
    // Away from the end, a button brings the reader back to it: in a row of its own between the log
    // and the composer, over no message.
    const latest = page.getByRole("button", { name: "Latest" });
    const log = (await page.getByRole("log", { name: "Conversation" }).boundingBox())!;
    const button = (await latest.boundingBox())!;
    const composer = (await page.getByLabel("Message").boundingBox())!;
    expect(button.y).toBeGreaterThanOrEqual(log.y + log.height);
    expect(button.y + button.height).toBeLessThanOrEqual(composer.y);
    expect(button.x + button.width).toBeLessThanOrEqual(390);
    await latest.click();
    await onScreen(page.locator(".msg.assistant", { hasText: "Step 498:" }));
    await page.getByRole("button", { name: "Latest" }).waitFor({ state: "detached" });
    expect(await rendered()).toBeLessThanOrEqual(MAX_RENDERED);
  });

  it("a fast fling fills in the messages it passed as placeholders, keeping the reader's place", async () => {
    const log = page.getByRole("log", { name: "Conversation" });
    await log.focus();
    await page.keyboard.press("Home");
    await onScreen(page.getByText("Round 0: run the tests", { exact: true }));
    // Down, then up (where each message filled in above the viewport would push the rest down).
    for (const [dy, frames] of [
      [600, 40],
      [-600, 20],
    ] as const) {
      const stop = (await page.evaluate(FLING(dy, frames))) as {
        key: string;
        y: number;
        placeholders: number;
      };
      expect(stop.placeholders).toBeGreaterThan(0);
      await expect.poll(placeholders).toBe(0);
      expect(await page.evaluate(AT(stop.key))).toBeCloseTo(stop.y, 0);
      expect(await rendered()).toBeLessThanOrEqual(MAX_RENDERED);
    }
    // To the end: the last message is there, whole.
    await page.evaluate(FLING(600, 600));
    await expect.poll(placeholders).toBe(0);
    await onScreen(page.locator(".msg.assistant", { hasText: "Step 498:" }));
  });

  it("follows a streamed answer at the bottom", async () => {
    const words = Array.from({ length: 150 }, (_, i) => `w${i}`).join(" ");
    h.llm.enqueue({ kind: "text", text: `${words} THE-END`, chunkSize: 12, delayMs: 10 });
    await page.getByLabel("Message").fill("one more");
    await page.getByRole("button", { name: "Send" }).click();
    await onScreen(page.getByText("THE-END"));
    await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    await onScreen(page.getByText("THE-END"));
    expect(await rendered()).toBeLessThanOrEqual(MAX_RENDERED);
    expect(problems).toEqual([]);
  });
});
