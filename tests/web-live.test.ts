import { AxeBuilder } from "@axe-core/playwright";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PiClient } from "../src/client/client.js";
import { startHarness, type Harness } from "./helpers/harness.js";
import {
  CHROMIUM,
  DIST_WEB,
  launchChromium,
  makeInviteLink,
  phone,
  startWebFront,
  type WebFront,
} from "./helpers/web.js";

const SHOTS = join(import.meta.dirname, "..", "docs", "screenshots");
const ready = existsSync(CHROMIUM) && existsSync(join(DIST_WEB, "index.html"));

let h: Harness;
let front: WebFront;
let browser: Browser;
let owner: PiClient;
let sessionId: string;
const problems: string[][] = [];

async function pairedPhone(name: string): Promise<Page> {
  const p = await phone(browser);
  problems.push(p.problems);
  await p.page.goto(makeInviteLink(h, front));
  await p.page.getByLabel("Name of this device").fill(name);
  await p.page.getByRole("button", { name: "Pair this device" }).click();
  await p.page.locator('[data-state="connected"]').waitFor();
  return p.page;
}

async function openSession(page: Page): Promise<void> {
  await page.goto(`${front.url}/app/#/s/${sessionId}`);
  await page.locator('[data-state="connected"]').waitFor();
  await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
}

/** axe-core on the page as it is: no serious or critical violation. */
async function axe(page: Page): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
}

async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel("Message").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

describe.skipIf(!ready)("web app, live", () => {
  let a: Page;
  let b: Page;
  beforeAll(async () => {
    h = await startHarness({ config: { security: { profile: "strict" } } });
    front = await startWebFront(h);
    browser = await launchChromium();
    owner = await h.connect();
    sessionId = (await owner.request("session.create", { repoId: "demo", name: "live session" })).sessionId;
    a = await pairedPhone("phone a");
    b = await pairedPhone("phone b");
  });
  afterAll(async () => {
    await browser?.close();
    await front?.close();
    await h?.close();
  });

  it("finishes an answer cut off mid-stream, without duplicates", async () => {
    await openSession(a);
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
    h.llm.enqueue({ kind: "text", text: `${words} END`, chunkSize: 6, delayMs: 40 });
    await send(a, "stream something long");
    await a.locator(".msg.assistant", { hasText: "word3" }).waitFor();
    front.cut();
    await a.locator('[data-state="reconnecting"], [data-state="connecting"]').first().waitFor();
    await a.locator('[data-state="connected"]').waitFor();
    await a.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    await a.locator(".msg.assistant", { hasText: "END" }).waitFor();
    const texts = await a.locator(".msg.assistant").allInnerTexts();
    expect(texts.filter((t) => t.includes("word0"))).toEqual([`${words} END`]);
    expect(await a.locator(".msg.user", { hasText: "stream something long" }).count()).toBe(1);
  });

  it("offers Retry now while the server is unreachable, and it reconnects", async () => {
    await openSession(a);
    front.refuse(true);
    front.cut();
    await a.locator('[data-state="reconnecting"], [data-state="offline"]').first().waitFor();
    // Not connected, the session's status is not claimed: unknown, the last one heard as a tooltip.
    await a.getByTestId("session-status").filter({ hasText: "status unknown" }).waitFor();
    // Tapped while the server is still unreachable: one more attempt, and the button is back after it.
    await a.getByRole("button", { name: "Retry now" }).click();
    await a.getByRole("button", { name: "Retry now" }).waitFor();
    front.refuse(false);
    await a.locator('[data-state="connected"]').waitFor({ timeout: 60_000 });
    expect(await a.getByRole("button", { name: "Retry now" }).count()).toBe(0);
  });

  it("closes the approval on every device when one answers, and it re-appears after a reload", async () => {
    await openSession(b);
    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "echo from-the-agent" } },
      { kind: "text", text: "Ran it." },
    );
    await send(a, "run echo");
    await a.locator(".approval").waitFor();
    await b.locator(".approval").waitFor();
    // A reload (or a reconnect) shows the request again: pending approvals are re-sent on attach.
    await b.reload();
    await b.locator(".approval").waitFor();
    await b.goto(`${front.url}/app/#/`);
    await b.locator(".waiting-banner", { hasText: "1 approval is waiting" }).waitFor();
    await b.locator(".status", { hasText: "waiting for approval" }).waitFor();
    await axe(b);
    if (process.env.PI_SERVER_SCREENSHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      await b.screenshot({ path: join(SHOTS, "sessions.png") });
    }
    // The banner leads to the session that waits.
    await b.getByRole("link", { name: /1 approval is waiting/ }).click();
    await b.waitForURL(`**/app/#/s/${sessionId}`);
    await b.locator(".approval").waitFor();
    await axe(b);
    await a.locator(".approval").getByRole("button", { name: "Allow once" }).click();
    await a.getByText("Ran it.").waitFor();
    await b.getByText("Ran it.").waitFor();
    expect(await b.locator(".approval").count()).toBe(0);
    await b.getByText("Allowed once by phone a").waitFor();
    await b.locator('.tool[data-tool="bash"] .output', { hasText: "from-the-agent" }).waitFor();
    await axe(a);
  });

  it("stops a slow turn", async () => {
    h.llm.enqueue({ kind: "hang", text: "thinking about it" });
    await send(a, "take your time");
    await a.getByRole("button", { name: "Stop" }).click();
    await a.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    await a.getByRole("button", { name: "Send" }).waitFor();
  });

  it("shows the beginning of a message that was streaming when the page opened", async () => {
    h.llm.enqueue({ kind: "hang", text: "The beginning of a long answer" });
    await send(a, "answer slowly");
    await a.locator(".msg.assistant", { hasText: "The beginning of a long answer" }).waitFor();
    await b.goto(`${front.url}/app/#/s/${sessionId}`);
    await b.reload();
    await b.locator('[data-state="connected"]').waitFor();
    await b.getByTestId("session-status").filter({ hasText: "running" }).waitFor();
    await b.locator(".msg.assistant", { hasText: "The beginning of a long answer" }).waitFor();
    await b.getByRole("button", { name: "Stop" }).click();
    await b.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    expect(await b.locator(".msg.assistant", { hasText: "The beginning of a long answer" }).count()).toBe(1);
  });

  it("tells a revoked device so", async () => {
    await owner.request("devices.revoke", { device: "phone b" });
    await b.getByRole("heading", { name: "This device was revoked" }).waitFor();
    await axe(b);
    await b.getByRole("button", { name: "Forget this server" }).click();
    await b.getByRole("heading", { name: "Pair this device" }).waitFor();
    for (const p of problems) expect(p).toEqual([]);
  });
});
