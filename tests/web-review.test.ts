import { AxeBuilder } from "@axe-core/playwright";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./helpers/harness.js";
import { CHROMIUM, DIST_WEB, launchChromium, makeInviteLink, phone, serverApp } from "./helpers/web.js";

const ready = existsSync(CHROMIUM) && existsSync(join(DIST_WEB, "index.html"));

let h: Harness;
let browser: Browser;
let page: Page;
let problems: string[];

async function shot(name: string): Promise<void> {
  if (!process.env.PI_SERVER_SCREENSHOTS) return;
  const dir = join(import.meta.dirname, "..", "docs", "screenshots");
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`) });
}

describe.skipIf(!ready)("web app, review screen", () => {
  beforeAll(async () => {
    h = await startHarness();
    browser = await launchChromium();
    ({ page, problems } = await phone(browser));
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it("lists a file the agent wrote as added, with its lines in the diff and the file itself", async () => {
    // The page comes from the server's own /app/ route, with the server's CSP.
    const app = serverApp(h);
    await page.goto(makeInviteLink(h, app));
    await page.getByLabel("Name of this device").fill("review phone");
    await page.getByRole("button", { name: "Pair this device" }).click();
    await page.locator('[data-state="connected"]').waitFor();

    const owner = await h.connect();
    const { sessionId } = await owner.request("session.create", { repoId: "demo", name: "review session" });
    await page.goto(`${app.url}/app/#/s/${sessionId}`);
    await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();

    h.llm.enqueue(
      {
        kind: "tool_call",
        name: "write",
        args: { path: "notes/todo.txt", content: "first line\nsecond line\n" },
      },
      {
        kind: "tool_call",
        name: "write",
        args: {
          path: "long.txt",
          content: Array.from({ length: 300 }, (_, i) => `line ${i + 1}\n`).join(""),
        },
      },
      { kind: "text", text: "Wrote the notes." },
    );
    await page.getByLabel("Message").fill("write some notes");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByText("Wrote the notes.").waitFor();
    await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();

    await page.getByRole("link", { name: "Changes" }).click();
    await page.getByRole("heading", { name: "Changes" }).waitFor();
    const entry = page.getByRole("button", { name: "notes/todo.txt, added, 2 added, 0 removed" });
    await entry.waitFor();
    await expect(entry.getAttribute("aria-expanded")).resolves.toBe("false");
    await entry.click();
    await expect(entry.getAttribute("aria-expanded")).resolves.toBe("true");
    const diff = page.getByRole("group", { name: "Diff of notes/todo.txt" });
    await expect(diff.locator(".dl-add .code").allInnerTexts()).resolves.toEqual([
      "first line",
      "second line",
    ]);
    await expect(diff.locator(".dl-add .ln").allInnerTexts()).resolves.toEqual(["", "1", "", "2"]);
    expect(await diff.locator(".dl-del").count()).toBe(0);

    await page.getByRole("button", { name: "View file notes/todo.txt" }).click();
    await expect(page.getByLabel("Content of notes/todo.txt").innerText()).resolves.toBe(
      "first line\nsecond line\n",
    );

    await shot("changes");

    // A long file's diff is folded after 200 lines.
    await page.getByRole("button", { name: "long.txt, added, 300 added, 0 removed" }).click();
    const long = page.getByRole("group", { name: "Diff of long.txt" });
    expect(await long.locator(".dl").count()).toBe(200);
    await page.getByRole("button", { name: /^Show all 302 lines/ }).click();
    expect(await long.locator(".dl-add").count()).toBe(300);
    // Folded again: axe below need not walk 300 rows.
    await page.getByRole("button", { name: "long.txt, added, 300 added, 0 removed" }).click();

    // The file gone from the worktree since: "View file" says not_found, visibly.
    await page.getByRole("button", { name: "Hide file notes/todo.txt" }).click();
    const { sessions } = await owner.request("session.list", {});
    rmSync(join(sessions.find((x) => x.id === sessionId)!.worktree, "notes/todo.txt"));
    await page.getByRole("button", { name: "View file notes/todo.txt" }).click();
    await page.getByRole("alert").filter({ hasText: "not found" }).waitFor();
    // Refresh: only the long file is left to review.
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("heading", { name: /^1 file changed/ }).waitFor();
    expect(await page.locator(".file").count()).toBe(1);

    // A patch over 1 MiB is cut: the banner says so, and 4 MiB brings it whole.
    const worktree = sessions.find((x) => x.id === sessionId)!.worktree;
    writeFileSync(join(worktree, "big.txt"), `${"x".repeat(99)}\n`.repeat(12_000));
    await page.getByRole("button", { name: "Refresh" }).click();
    const banner = page.getByRole("status").filter({ hasText: "The diff is incomplete" });
    await banner.waitFor();
    await page.getByRole("button", { name: "Load up to 4 MiB" }).click();
    await banner.waitFor({ state: "detached" });
    await page.getByRole("button", { name: "big.txt, added, 12000 added, 0 removed" }).waitFor();

    const { violations } = await new AxeBuilder({ page }).analyze();
    const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);

    // The worktree gone: the conflict is shown.
    rmSync(worktree, { recursive: true, force: true });
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("alert").filter({ hasText: "the worktree is not available" }).waitFor();
    expect(problems).toEqual([]);
  });
});
