import { AxeBuilder } from "@axe-core/playwright";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PiClient } from "../src/client/client.js";
import { TokenStore } from "../src/store/tokens.js";
import { startHarness, textOf, tmp, type Harness } from "./helpers/harness.js";
import { writeTuiSession } from "./helpers/tui-session.js";
import { CHROMIUM, DIST_WEB, launchChromium, makeInviteLink, phone, serverApp } from "./helpers/web.js";

/**
 * The web app's workspaces, rename, fork, checkpoints and import, driven in Chromium at a phone's
 * width against the real server, with real pi sessions, real git worktrees and the fake LLM.
 */

const ready = existsSync(CHROMIUM) && existsSync(join(DIST_WEB, "index.html"));
const DEVICE = "ws phone";

// A HOME of this file's own: the server lists ~/.pi/agent/sessions of it, and no other test sees it.
const home = tmp("web-tui-home");
const savedHome = process.env.HOME;
process.env.HOME = home;
const sessionsDir = join(home, ".pi", "agent", "sessions");

let h: Harness;
let owner: PiClient;
let browser: Browser;
let page: Page;
let problems: string[];
let app: { url: string; port: number };

async function noSeriousViolations(): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
}

async function idle(): Promise<void> {
  await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor({ timeout: 60_000 });
}

/** A turn through the app's composer; the fake LLM answers with `steps`. */
async function sendTurn(message: string, answer: string, write?: { path: string; content: string }) {
  if (write) h.llm.enqueue({ kind: "tool_call", name: "write", args: write });
  h.llm.enqueue({ kind: "text", text: answer });
  await page.getByLabel("Message").fill(message);
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator(".msg.assistant", { hasText: answer }).waitFor({ timeout: 60_000 });
  await idle();
}

async function session(id: string) {
  const { sessions } = await owner.request("session.list", {});
  return sessions.find((s) => s.id === id)!;
}

function currentSessionId(): string {
  const m = /#\/s\/([a-z0-9]+)$/.exec(page.url());
  if (!m) throw new Error(`not on a chat: ${page.url()}`);
  return m[1]!;
}

async function texts(sessionId: string): Promise<string[]> {
  const { messages } = await owner.request("get_messages", {}, sessionId);
  return messages.map((m) => `${(m as { role: string }).role}:${textOf(m)}`);
}

describe.skipIf(!ready)("web app: workspaces, rename, fork, checkpoints, import", () => {
  beforeAll(async () => {
    h = await startHarness();
    const skill = (name: string, extra: string): void => {
      mkdirSync(join(h.dataDir, "skills", name), { recursive: true });
      writeFileSync(
        join(h.dataDir, "skills", name, "SKILL.md"),
        `---\nname: ${name}\ndescription: The ${name} skill.\n${extra}---\n\n# ${name}\n`,
      );
    };
    skill("plain-notes", "");
    skill("needs-missing", "metadata:\n  commands: definitely-not-installed-cmd\n");
    owner = await h.connect();
    app = serverApp(h);
    browser = await launchChromium();
    ({ page, problems } = await phone(browser));
    await page.goto(makeInviteLink(h, app));
    await page.getByLabel("Name of this device").fill(DEVICE);
    await page.getByRole("button", { name: "Pair this device" }).click();
    await page.locator('[data-state="connected"]').waitFor();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    process.env.HOME = savedHome;
    rmSync(home, { recursive: true, force: true });
  });

  it("creates a workspace with network off and a default model, and starts a session in it", async () => {
    await page.getByRole("link", { name: "New session" }).click();
    await page.getByLabel("Workspace").waitFor();
    await expect(page.getByLabel("Workspace").inputValue()).resolves.toBe("demo");
    await page.getByRole("link", { name: "New workspace" }).click();
    await page.getByRole("heading", { name: "New workspace" }).waitFor();
    await page.getByLabel("Name").fill("offline");
    await page.getByLabel("Repository").selectOption("demo");
    await page.getByLabel("Default model").selectOption("fake/fake-model-2");
    await page.getByRole("radio", { name: "Off", exact: true }).check();
    await page.getByRole("radio", { name: "Host (unsandboxed)" }).check();
    await page.locator(".warning").filter({ hasText: "outside the sandbox" }).waitFor();
    await noSeriousViolations();
    await page.getByRole("radio", { name: "Sandbox", exact: true }).check();
    expect(await page.locator(".warning").count()).toBe(0);

    // A paired device is a user: the typed error says what would allow it.
    await page.getByRole("button", { name: "Create workspace" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: `pi-server token grant "${DEVICE}" admin` })
      .waitFor();
    expect(new TokenStore(h.server.db).grantDevice(DEVICE, "admin").length).toBe(1);
    await page.getByRole("button", { name: "Create workspace" }).click();

    // Back in the new-session form with the workspace chosen and its model preselected.
    await page.getByRole("heading", { name: "New session" }).waitFor();
    const { workspaces } = await owner.request("workspaces.list", {});
    const ws = workspaces.find((w) => w.name === "offline")!;
    expect(ws).toMatchObject({
      repoId: "demo",
      model: "fake/fake-model-2",
      network: "off",
      runtime: "sandbox",
      effective: { network: "off" },
    });
    await expect(page.getByLabel("Workspace").inputValue()).resolves.toBe(ws.id);
    await expect(page.getByLabel("Model").inputValue()).resolves.toBe("fake/fake-model-2");
    await page.getByText("fake/fake-model-2 · sandbox · network off").waitFor();
    await noSeriousViolations();
    await page.getByLabel("Name (optional)").fill("in offline");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.getByRole("heading", { name: "in offline" }).waitFor();
    const made = await session(currentSessionId());
    expect(made).toMatchObject({ workspaceId: ws.id, repoId: "demo", model: "fake/fake-model-2" });

    // The list groups it under its repo, then its workspace.
    await page.getByRole("link", { name: "Sessions", exact: true }).click();
    const group = page.getByRole("region", { name: "Workspace offline" });
    await group.getByRole("link", { name: /in offline/ }).waitFor();
    expect(problems).toEqual([]);
  });

  it("edits a workspace's settings, shows incompatible skills and typed errors, and deletes one", async () => {
    const { workspaces } = await owner.request("workspaces.list", {});
    const ws = workspaces.find((w) => w.name === "offline")!;
    await page.goto(`${app.url}/app/#/`);
    await page.getByRole("link", { name: "Workspaces" }).click();
    await page.getByRole("heading", { name: "Workspaces" }).waitFor();
    await page.getByRole("link", { name: /^offline/ }).click();
    await page.getByRole("heading", { name: "offline" }).waitFor();
    await expect(page.getByLabel("Default model").inputValue()).resolves.toBe("fake/fake-model-2");
    await page.locator(".tag-bad").filter({ hasText: "incompatible" }).waitFor();
    await page.getByText("not found where its tools run: definitely-not-installed-cmd").waitFor();

    // Host stays the owner's: the server says so, visibly.
    await page.getByRole("radio", { name: "Host (unsandboxed)" }).check();
    await page.locator(".warning").filter({ hasText: "outside the sandbox" }).waitFor();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("alert").filter({ hasText: "only the server's owner may do this" }).waitFor();
    await noSeriousViolations();

    await page.getByRole("radio", { name: "Sandbox", exact: true }).check();
    await page.getByLabel("Thinking level").selectOption("low");
    await page.getByLabel("System prompt addition").fill("Answer in haiku.");
    await page.getByRole("radio", { name: "Only these" }).check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const after = (await owner.request("workspaces.list", {})).workspaces.find((w) => w.id === ws.id)!;
    expect(after).toMatchObject({
      thinkingLevel: "low",
      systemPrompt: "Answer in haiku.",
      skills: ["plain-notes"],
      runtime: "sandbox",
      network: "off",
      model: "fake/fake-model-2",
    });

    // In use: the server's conflict is shown, nothing deleted.
    await page.getByRole("button", { name: "Delete workspace" }).click();
    await page
      .getByRole("group", { name: /Delete the workspace/ })
      .getByRole("button", { name: "Delete" })
      .click();
    await page.getByRole("alert").filter({ hasText: "Could not delete the workspace: not now" }).waitFor();

    const { workspace: spare } = await owner.request("workspaces.create", { name: "spare", repoId: "demo" });
    await page.goto(`${app.url}/app/#/w/${encodeURIComponent(spare.id)}`);
    await page.getByRole("heading", { name: "spare" }).waitFor();
    await page.getByRole("button", { name: "Delete workspace" }).click();
    const confirm = page.getByRole("group", { name: /Delete the workspace “spare”/ });
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "Delete workspace" }).click();
    await confirm.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("heading", { name: "Workspaces" }).waitFor();
    const left = (await owner.request("workspaces.list", {})).workspaces.map((w) => w.id);
    expect(left).not.toContain(spare.id);
    expect(left).toContain(ws.id);
    expect(problems).toEqual([]);
  });

  let sourceId: string;

  it("renames a session from the chat; the list and the server have the new name", async () => {
    const { sessionId } = await owner.request("session.create", { repoId: "demo", name: "to rename" });
    sourceId = sessionId;
    await page.goto(`${app.url}/app/#/s/${sessionId}`);
    await page.getByRole("heading", { name: "to rename" }).waitFor();
    const logBefore = (await page.locator(".messages").boundingBox())!;
    await page.getByRole("button", { name: "Model and settings" }).click();
    // A sheet over the conversation, which keeps its size; Delete is set apart at its foot.
    const sheet = page.getByRole("dialog", { name: "Model and settings" });
    await sheet.waitFor();
    await expect(sheet.evaluate((d) => d.matches(":modal"))).resolves.toBe(true);
    expect((await page.locator(".messages").boundingBox())!.height).toBe(logBefore.height);
    await sheet.locator(".danger-zone").getByRole("button", { name: "Delete session" }).waitFor();
    await page.getByLabel("Name", { exact: true }).fill("renamed one");
    await page.getByRole("button", { name: "Rename" }).click();
    await page.getByRole("heading", { name: "renamed one" }).waitFor();
    expect(await session(sessionId)).toMatchObject({ name: "renamed one", nameSource: "user" });
    // The settings are a modal sheet over the conversation: closed, the chat is usable again.
    await page
      .getByRole("dialog", { name: "Model and settings" })
      .getByRole("button", { name: "Close" })
      .click();
    await page.getByRole("link", { name: "Sessions", exact: true }).click();
    await page.getByRole("link", { name: /renamed one/ }).waitFor();
    expect(problems).toEqual([]);
  });

  it("forks from a user message: a new session with the history before it, the message to edit", async () => {
    await page.goto(`${app.url}/app/#/s/${sourceId}`);
    await idle();
    await sendTurn("first question", "answer one", { path: "step.txt", content: "1\n" });
    await sendTurn("second question", "answer two", { path: "step.txt", content: "2\n" });
    await page.getByRole("button", { name: /^Fork from here\W+first question$/ }).waitFor();
    await noSeriousViolations();
    await page.getByRole("button", { name: /^Fork from here\W+second question$/ }).click();
    await page.getByRole("heading", { name: "renamed one (fork)" }).waitFor();
    const forkId = currentSessionId();
    expect(forkId).not.toBe(sourceId);
    await page.locator(".msg.assistant", { hasText: "answer one" }).waitFor();
    await expect(page.locator(".msg.user").allInnerTexts()).resolves.toEqual(["first question"]);
    expect(await page.locator(".msg.assistant", { hasText: "answer two" }).count()).toBe(0);
    await expect(page.getByLabel("Message").inputValue()).resolves.toBe("second question");
    const forked = await texts(forkId);
    expect(forked.filter((t) => t.startsWith("user:"))).toEqual(["user:first question"]);
    expect(forked.at(-1)).toBe("assistant:answer one");
    // The fork's worktree is a copy of the source's as it was.
    expect(readFileSync(join((await session(forkId)).worktree, "step.txt"), "utf8")).toBe("2\n");
    expect((await texts(sourceId)).filter((t) => t.startsWith("user:")).length).toBe(2);
    expect(problems).toEqual([]);
  });

  it("reverts the worktree to a checkpoint after a confirmation, and with the conversation", async () => {
    await page.goto(`${app.url}/app/#/s/${sourceId}`);
    await idle();
    await page.getByRole("button", { name: "Model and settings" }).click();
    await page.getByRole("link", { name: /Checkpoints/ }).click();
    await page.getByRole("heading", { name: "Checkpoints" }).waitFor();
    await page.getByText("Turn 1: first question").waitFor();
    await page.getByText("Turn 2: second question").waitFor();
    const turn1 = page.locator("li", { hasText: "Turn 1: first question" });
    const turn2 = page.locator("li", { hasText: "Turn 2: second question" });
    await turn1.getByRole("button", { name: /^Revert to here\W+turn 1$/ }).click();
    const confirm = page.getByRole("group", { name: /Put the worktree back to turn 1/ });
    await noSeriousViolations();
    await confirm.getByRole("button", { name: "Cancel" }).click();
    const worktree = (await session(sourceId)).worktree;
    expect(readFileSync(join(worktree, "step.txt"), "utf8")).toBe("2\n");

    await turn1.getByRole("button", { name: /^Revert to here\W+turn 1$/ }).click();
    await confirm.getByRole("button", { name: "Revert" }).click();
    await page.getByRole("status").filter({ hasText: "The worktree is back at turn 1" }).waitFor();
    expect(readFileSync(join(worktree, "step.txt"), "utf8")).toBe("1\n");

    // With the conversation: a new session at turn 1 on the checkpoint's files.
    // The revert is a checkpoint of its own, listed first.
    await page.getByText("Turn 2: Revert to").waitFor();
    await turn2.getByRole("button", { name: /^Revert to here\W+turn 2$/ }).click();
    await confirm.waitFor({ state: "detached" });
    const second = turn2.getByRole("group", { name: /Put the worktree back to turn 2/ });
    await second.getByLabel(/Also go back in the conversation/).check();
    await second.getByRole("button", { name: "Revert" }).click();
    await page.locator(".msg.assistant", { hasText: "answer two" }).waitFor();
    const revertedId = currentSessionId();
    expect(revertedId).not.toBe(sourceId);
    expect((await texts(revertedId)).filter((t) => t.startsWith("user:"))).toEqual([
      "user:first question",
      "user:second question",
    ]);
    expect(readFileSync(join((await session(revertedId)).worktree, "step.txt"), "utf8")).toBe("2\n");
    expect(readFileSync(join(worktree, "step.txt"), "utf8")).toBe("2\n");
    expect(problems).toEqual([]);
  });

  it("imports a session of pi's terminal UI and opens it with its history", async () => {
    await page.goto(`${app.url}/app/#/`);
    await page.getByRole("link", { name: "Import from the terminal" }).click();
    await page.getByRole("heading", { name: "Import from the terminal" }).waitFor();
    await page.getByRole("status").filter({ hasText: "No terminal sessions found" }).waitFor();

    mkdirSync(join(h.repo, "pkg"), { recursive: true });
    writeTuiSession(sessionsDir, join(h.repo, "pkg"), "what does the tui say?", "the tui says hi");
    const outside = tmp("web-outside");
    writeTuiSession(sessionsDir, outside, "elsewhere", "not a repo");
    await page.getByRole("button", { name: "Refresh" }).click();
    const mine = page.locator(".card", { hasText: "what does the tui say?" });
    await mine.getByText(join(h.repo, "pkg")).waitFor();
    await page.locator(".card", { hasText: "elsewhere" }).getByText("Cannot be imported").waitFor();
    expect(await page.getByRole("button", { name: /^Import\W+elsewhere$/ }).count()).toBe(0);
    await noSeriousViolations();

    await page.getByRole("button", { name: /^Import\W+what does the tui say\?$/ }).click();
    await page.locator(".msg.assistant", { hasText: "the tui says hi" }).waitFor();
    await expect(page.locator(".msg.user").allInnerTexts()).resolves.toEqual(["what does the tui say?"]);
    const imported = await session(currentSessionId());
    expect(imported).toMatchObject({ repoId: "demo", branch: `pi/${imported.id}` });
    rmSync(outside, { recursive: true, force: true });
    expect(problems).toEqual([]);
  });
});
