import { existsSync } from "node:fs";
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

const ready = existsSync(CHROMIUM) && existsSync(join(DIST_WEB, "index.html"));

let h: Harness;
let front: WebFront;
let browser: Browser;
let owner: PiClient;
let sessionId: string;
let page: Page;
let problems: string[];

async function send(text: string): Promise<void> {
  await page.getByLabel("Message").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

const note = (tool: string) => page.locator(`.tool[data-tool="${tool}"] .tool-note`);

/** Who answered an approval, or which rule decided, is on the tool's card live and after a reload. */
describe.skipIf(!ready)("web app, decisions after a reload", () => {
  beforeAll(async () => {
    h = await startHarness({ config: { security: { profile: "strict" } } });
    front = await startWebFront(h);
    browser = await launchChromium();
    owner = await h.connect();
    sessionId = (await owner.request("session.create", { repoId: "demo", name: "decisions" })).sessionId;
    await owner.request("rules.add", {
      tool: "bash",
      match: "echo ruled",
      decision: "allow",
      scope: "session",
      sessionId,
      note: "echo is harmless",
    });
    const p = await phone(browser);
    page = p.page;
    problems = p.problems;
    await page.goto(makeInviteLink(h, front));
    await page.getByLabel("Name of this device").fill("test phone");
    await page.getByRole("button", { name: "Pair this device" }).click();
    await page.locator('[data-state="connected"]').waitFor();
    await page.goto(`${front.url}/app/#/s/${sessionId}`);
    await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await front?.close();
    await h?.close();
  });

  it("keeps 'Allowed once by', 'Denied by' and the deciding rule on the cards", async () => {
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "hello.txt", content: "hi\n" } },
      { kind: "text", text: "Wrote it." },
    );
    await send("write a file");
    await page.locator(".approval").getByRole("button", { name: "Allow once" }).click();
    await page.getByText("Wrote it.").waitFor();
    await note("write").filter({ hasText: "Allowed once by test phone" }).waitFor();

    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "rm -rf build" } },
      { kind: "text", text: "Left it." },
    );
    await send("clean up");
    const card = page.locator(".approval");
    await card.getByLabel(/Reason, if you deny/).fill("build holds the release");
    await card.getByRole("button", { name: "Deny", exact: true }).click();
    await page.getByText("Left it.").waitFor();
    await note("bash").filter({ hasText: "Denied by test phone" }).waitFor();

    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "echo ruled" } },
      { kind: "text", text: "Echoed." },
    );
    await send("echo");
    await page.getByText("Echoed.").waitFor();
    await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    // No question was asked: the rule that let it through says so once the turn ends.
    const ruled = page.locator('.tool[data-tool="bash"]', { hasText: "echo ruled" }).locator(".tool-note");
    await ruled.filter({ hasText: /^Allowed: This session's rule allows bash echo ruled/ }).waitFor();
    const live = await page.locator(".tool .tool-note").allInnerTexts();
    expect(live).toHaveLength(3);

    // The history the typed client loads carries the same, by tool call id.
    const history = await owner.request("get_messages", {}, sessionId);
    const decisions = Object.values(history.decisions ?? {});
    expect(decisions.map((d) => [d.decision, d.outcome, d.by, d.layer])).toEqual(
      expect.arrayContaining([
        ["allow", "allow_once", "test phone", "user"],
        ["deny", "deny_once", "test phone", "user"],
        ["allow", "policy", "policy", "rule"],
      ]),
    );
    expect(decisions.find((d) => d.outcome === "deny_once")?.reason).toBe("build holds the release");
    expect(decisions.find((d) => d.layer === "rule")?.ruleId).toMatch(/^r_/);

    await page.reload();
    await page.getByText("Echoed.").waitFor();
    await note("write").filter({ hasText: "Allowed once by test phone" }).waitFor();
    await expect(page.locator(".tool .tool-note").allInnerTexts()).resolves.toEqual(live);
    expect(problems).toEqual([]);
  });
});
