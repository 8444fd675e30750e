import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./helpers/harness.js";
import {
  CHROMIUM,
  DIST_WEB,
  launchChromium,
  makeInviteLink,
  phone,
  serverApp,
  type WebFront,
} from "./helpers/web.js";

const SHOTS = join(import.meta.dirname, "..", "docs", "screenshots");
const ready = existsSync(CHROMIUM) && existsSync(join(DIST_WEB, "index.html"));

let h: Harness;
let front: Pick<WebFront, "url" | "port">;
let browser: Browser;
let page: Page;
let problems: string[];

async function shot(name: string): Promise<void> {
  if (!process.env.PI_SERVER_SCREENSHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** A box as the page lays it out, in CSS pixels. */
interface Box {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
  font: number;
  bg: string;
  border: string;
}

/**
 * The approval card's answers at 320, 390 and 430 px: full-width rows of equal, single-line cells;
 * "Allow once" filled and larger than the lasting answers, "Deny" in red; focus moves through them
 * in reading order; axe finds nothing serious.
 */
async function checkOptionsLayout(card: Locator): Promise<void> {
  const page = card.page();
  try {
    for (const width of [320, 390, 430]) {
      await page.setViewportSize({ width, height: 844 });
      const { rows, buttons } = (await card.evaluate(`(() => {
        const box = (el) => {
          const r = el.getBoundingClientRect();
          const cs = getComputedStyle(el);
          return { text: el.textContent.trim(), x: r.left, y: r.top, w: r.width, h: r.height,
            font: parseFloat(cs.fontSize), bg: cs.backgroundColor, border: cs.borderTopColor };
        };
        const rows = [...document.querySelectorAll(".approval .option-row")].map(box);
        const buttons = [...document.querySelectorAll(".approval .options button")].map(box);
        return { rows, buttons };
      })()`)) as { rows: Box[]; buttons: Box[] };
      const at = `${width}px`;
      expect(
        buttons.map((b) => b.text),
        at,
      ).toEqual([
        "Allow once",
        "Deny",
        "Allow for this turn",
        "Allow for this session",
        "Always allow",
        "Always deny",
      ]);
      // One line each: every answer is as tall as the shortest.
      const lowest = Math.min(...buttons.map((b) => b.h));
      for (const b of buttons) expect(b.h, `${at} ${b.text}`).toBeLessThan(lowest + 1);
      // Grid rows: the cells that share a line share its width equally and fill it edge to edge.
      const lines = new Map<number, Box[]>();
      for (const b of buttons) lines.set(Math.round(b.y), [...(lines.get(Math.round(b.y)) ?? []), b]);
      for (const cells of lines.values()) {
        const row = rows.find((r) => cells[0]!.y >= r.y - 1 && cells[0]!.y < r.y + r.h)!;
        expect(Math.abs(cells[0]!.x - row.x), at).toBeLessThan(1);
        const last = cells[cells.length - 1]!;
        expect(Math.abs(last.x + last.w - (row.x + row.w)), at).toBeLessThan(1);
        for (const c of cells) expect(Math.abs(c.w - cells[0]!.w), at).toBeLessThan(1);
      }
      // The one-off answers side by side on the first line.
      expect(Math.round(buttons[0]!.y)).toBe(Math.round(buttons[1]!.y));
      // Weight: Allow once is filled, the lasting answers are plain and smaller, Deny is red.
      const [once, deny, ...lasting] = buttons;
      for (const l of lasting) {
        expect(l.bg, at).not.toBe(once!.bg);
        expect(l.font, at).toBeLessThan(once!.font);
      }
      expect(once!.bg).not.toMatch(/rgba\(0, 0, 0, 0\)|rgb\(255, 255, 255\)/);
      expect(deny!.border).toBe("rgb(164, 22, 26)");
      expect(deny!.border).not.toBe(once!.border);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    // Focus order follows the layout: the reason, then the answers in reading order.
    await card.getByLabel(/Reason, if you deny/).focus();
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate("document.activeElement.textContent.trim()"));
    }
    expect(order).toEqual([
      "Allow once",
      "Deny",
      "Allow for this turn",
      "Allow for this session",
      "Always allow",
      "Always deny",
    ]);
    await expect(card.getByRole("group", { name: "Or answer for longer:" }).count()).resolves.toBe(1);
    const { violations } = await new AxeBuilder({ page }).include(".approval").analyze();
    const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  } finally {
    await page.setViewportSize({ width: 390, height: 844 });
  }
}

describe.skipIf(!ready)("web app", () => {
  beforeAll(async () => {
    // strict: every write and command asks, so the phone has something to approve.
    h = await startHarness({ config: { security: { profile: "strict" } } });
    // The page comes from the server's own /app/ route, with its CSP.
    front = serverApp(h);
    browser = await launchChromium();
    ({ page, problems } = await phone(browser));
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it("pairs from an invite link, with the signature checked and the token kept", async () => {
    // As `pi-server pair --name "test phone"` makes it: the form starts with that name.
    const link = makeInviteLink(h, front, undefined, "test phone");
    await page.goto(link);
    await page.getByRole("heading", { name: "Pair with a server" }).waitFor();
    await page.getByText("The invite is signed by server").waitFor();
    await expect(page.getByLabel("Name of this device").inputValue()).resolves.toBe("test phone");
    // How long it is valid, not a bare clock time of no stated zone.
    await page.getByText(/It expires in \d+ minutes \(.+\)\./).waitFor();
    await shot("pair");
    await page.getByRole("button", { name: "Pair this device" }).click();
    await page.getByRole("heading", { name: "Sessions" }).waitFor();
    await page.locator('[data-state="connected"]').waitFor();
    // The one-time secret is gone from the address bar.
    expect(page.url()).not.toContain("pair=");
    // The same invite cannot be used twice.
    await page.goto(link);
    await page.getByRole("button", { name: "Pair this device" }).click();
    await page.getByRole("alert").filter({ hasText: "already used" }).waitFor();
    // Known used, the page says only that and what to do: no expiry, no button, the command as code.
    await expect(page.getByRole("button", { name: "Pair this device" }).count()).resolves.toBe(0);
    await expect(page.getByText(/expires/).count()).resolves.toBe(0);
    await expect(page.locator("main").innerText()).resolves.not.toContain("`");
    await expect(
      page.evaluate(`getComputedStyle(document.querySelector("main code.cmd")).whiteSpace`),
    ).resolves.toBe("nowrap");
    await expect(page.locator("main code.cmd").innerText()).resolves.toBe("pi-server pair");
    // A tampered invite is refused before anything is sent.
    const encoded = link.split("#pair=")[1]!.split("&")[0]!;
    const signed = JSON.parse(Buffer.from(encoded, "base64url").toString()) as { invite: { port: number } };
    signed.invite.port += 1;
    await page.goto(`${front.url}/app/#pair=${Buffer.from(JSON.stringify(signed)).toString("base64url")}`);
    await page.getByRole("alert").filter({ hasText: "signature is not valid" }).waitFor();
  });

  it("creates a session and streams a markdown answer", async () => {
    await page.goto(`${front.url}/app/#/`);
    await page.locator('[data-state="connected"]').waitFor();
    await page.getByRole("link", { name: "New session" }).click();
    await page.getByLabel("Workspace").selectOption("demo");
    await page.getByLabel("Name (optional)").fill("first session");
    await page.getByRole("button", { name: "Create session" }).click();
    await page.getByRole("heading", { name: "first session" }).waitFor();

    h.llm.enqueue({
      kind: "text",
      text: [
        "Hello **from the agent**. <script>alert(1)</script>Done.",
        "",
        "```ts",
        "export function greet(name: string): string {",
        "  return `Hello, ${name}!`;",
        "}",
        "```",
      ].join("\n"),
      chunkSize: 5,
      delayMs: 15,
    });
    await page.getByLabel("Message").fill("say hello");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".msg.assistant strong", { hasText: "from the agent" }).waitFor();
    await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    await expect(page.locator(".msg.user").last().innerText()).resolves.toBe("say hello");
    // Sanitised: the script tag never reaches the DOM.
    expect(await page.locator(".msg.assistant script").count()).toBe(0);
    await page.locator(".msg.assistant .hljs-keyword").first().waitFor();
    await shot("chat");
  });

  it("highlights a fenced code block, and markup in code or text stays inert", async () => {
    h.llm.enqueue({
      kind: "text",
      text: [
        'A fix, and <b onmouseover="window.__pwned = 1">bold</b> <a href="javascript:window.__pwned=1">a link</a>:',
        '<svg><script>window.__pwned = 1</script></svg><iframe src="javascript:window.__pwned=1"></iframe>',
        "",
        "```ts",
        "// </code></pre><script>window.__pwned = 1</script>",
        "export function tokenize(src: string): string[] {",
        '  return src.split(/\\s+/).filter((t) => t !== "<img src=x onerror=alert(1)>");',
        "}",
        "```",
      ].join("\n"),
      chunkSize: 40,
      delayMs: 10,
    });
    await page.getByLabel("Message").fill("show me the fix");
    await page.getByRole("button", { name: "Send" }).click();
    const code = page.locator(".msg.assistant pre code.language-ts").last();
    await code.filter({ hasText: 'onerror=alert(1)>");' }).waitFor();
    await page.getByTestId("session-status").filter({ hasText: "idle" }).waitFor();
    await code.locator(".hljs-keyword", { hasText: "function" }).waitFor();
    await expect(code.locator(".hljs-comment").count()).resolves.toBe(1);
    await expect(code.locator(".hljs-string").first().innerText()).resolves.toContain("<img src=x");
    await expect(code.innerText()).resolves.toContain("</code></pre><script>window.__pwned = 1</script>");
    const answer = page.locator(".msg.assistant").last();
    expect(await answer.locator("script, iframe, img, [onmouseover]").count()).toBe(0);
    expect(await answer.locator("b", { hasText: "bold" }).count()).toBe(1);
    expect(await answer.locator("a", { hasText: "a link" }).getAttribute("href")).toBeNull();
    await answer.locator("b", { hasText: "bold" }).hover();
    expect(await page.evaluate("window.__pwned")).toBeUndefined();
    // Colours only: the same text unhighlighted takes exactly the same box.
    // (A string: the tests' tsconfig has no DOM types.)
    const sameBox = await page.evaluate(`(() => {
      const el = [...document.querySelectorAll(".msg.assistant pre code.language-ts")].pop();
      const pre = el.closest("pre");
      const plain = pre.cloneNode(true);
      plain.querySelector("code").textContent = el.textContent;
      pre.after(plain);
      const a = pre.getBoundingClientRect();
      const b = plain.getBoundingClientRect();
      plain.remove();
      return a.width === b.width && a.height === b.height && el.querySelector("span") !== null;
    })()`);
    expect(sameBox).toBe(true);
    // Chromium reports (and blocks) the handler attribute when DOMPurify parses the text in its inert
    // document, before it removes it: a report, not a handler that ran (checked above).
    const handlerReports = problems.filter((p) => p.includes("Executing inline event handler"));
    expect(handlerReports.length).toBeGreaterThan(0);
    problems.splice(0, problems.length, ...problems.filter((p) => !handlerReports.includes(p)));
  });

  it("approves a write and denies a command, showing the exact input", async () => {
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "hello.txt", content: "hi there\n" } },
      { kind: "text", text: "I wrote hello.txt." },
    );
    await page.getByLabel("Message").fill("write a file");
    await page.getByRole("button", { name: "Send" }).click();
    const card = page.locator(".approval");
    await card.waitFor();
    await expect(card.locator("pre").first().innerText()).resolves.toBe("hello.txt");
    await expect(page.title()).resolves.toMatch(/^\(1\)/);
    await card.getByRole("button", { name: "Allow for this turn" }).waitFor();
    await shot("approval");
    await checkOptionsLayout(card);
    await card.getByRole("button", { name: "Allow once" }).click();
    await page.getByText("I wrote hello.txt.").waitFor();
    await expect(card.count()).resolves.toBe(0);
    await page.locator('.tool[data-tool="write"] .tool-state', { hasText: "done" }).waitFor();
    await page.getByText("Allowed once by test phone").waitFor();

    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "rm -rf build && echo gone" } },
      { kind: "text", text: "Understood, I left it." },
    );
    await page.getByLabel("Message").fill("clean up");
    await page.getByRole("button", { name: "Send" }).click();
    await card.waitFor();
    await expect(card.locator("pre").first().innerText()).resolves.toBe("rm -rf build && echo gone");
    const before = h.llm.requests.length;
    await card.getByLabel(/Reason, if you deny/).fill("build holds the release artefacts");
    await card.getByRole("button", { name: "Deny", exact: true }).click();
    await page.getByText("Understood, I left it.").waitFor();
    await expect(card.count()).resolves.toBe(0);
    // The denial's reason reaches the model with the failed tool result.
    const sent = JSON.stringify(h.llm.requests.slice(before).map((r) => r.body.messages));
    expect(sent).toContain("The user says: build holds the release artefacts");
    // The card says the call was denied, not that the tool failed.
    await page.locator('.tool[data-tool="bash"] .tool-state', { hasText: "denied" }).waitFor();
    await page
      .locator('.tool[data-tool="bash"] pre.output[aria-label="Why"]', { hasText: "The user says" })
      .waitFor();
    await shot("tools");
    await expect(page.title()).resolves.toBe("pi");
    const worktree = (await h.connect()).request("session.list", {});
    const s = (await worktree).sessions.find((x) => x.name === "first session")!;
    expect(readFileSync(join(s.worktree, "hello.txt"), "utf8")).toBe("hi there\n");
    expect(problems).toEqual([]);
  });

  it("scrolls a tall approval card to its heading and command, not to its buttons, under a compact head", async () => {
    const content = Array.from({ length: 40 }, (_, i) => `line ${i + 1} of the notes`).join("\n");
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "notes.md", content } },
      { kind: "text", text: "Wrote the notes." },
    );
    await page.getByLabel("Message").fill("write the notes");
    await page.getByRole("button", { name: "Send" }).click();
    const card = page.locator(".approval");
    await card.getByRole("button", { name: "Always deny" }).waitFor();
    // Taller than the log: following the end stops at the card's top, so what is approved shows first.
    const seen = () =>
      page.evaluate(`(() => {
        const log = document.querySelector(".messages").getBoundingClientRect();
        const card = document.querySelector(".approval");
        const heading = card.querySelector("h3").getBoundingClientRect();
        const path = card.querySelector(".exact pre").getBoundingClientRect();
        return {
          tall: card.offsetHeight > log.height,
          heading: heading.top >= log.top && heading.bottom <= log.bottom,
          path: path.bottom <= log.bottom,
          latest: !!document.querySelector(".jump-end"),
        };
      })()`);
    const expected = { tall: true, heading: true, path: true, latest: false };
    await expect.poll(seen).toEqual(expected);
    // The head (back link, status, Changes, settings and a one-line title) leaves the log the screen.
    const head = (await page.locator(".chat-head").boundingBox())!;
    const log = (await page.locator(".messages").boundingBox())!;
    expect(head.height).toBeLessThan(100);
    expect(log.height).toBeGreaterThan(844 * 0.45);
    // The content box shows whole lines: no line cut in half at its foot.
    const lines = Number(
      await page.evaluate(`(() => {
        const pre = [...document.querySelectorAll(".approval .exact pre")].pop();
        const cs = getComputedStyle(pre);
        const inner = pre.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
        return inner / parseFloat(cs.lineHeight);
      })()`),
    );
    expect(Math.abs(lines - Math.round(lines))).toBeLessThan(0.05);
    // Scrolled up and back with "↓ Latest": the card's top again, not its foot.
    await page.locator(".messages").evaluate((el) => (el.scrollTop = 0));
    await page.getByRole("button", { name: "Latest" }).click();
    await expect.poll(seen).toEqual(expected);
    // Scrolled down to the buttons, the reader stays there.
    await page.locator(".messages").evaluate((el) => (el.scrollTop = el.scrollHeight));
    await card.getByRole("button", { name: "Deny", exact: true }).click();
    await page.getByText("Wrote the notes.").waitFor();
    expect(problems).toEqual([]);
  });

  it("shows a long title whole in the list and on one line in the chat head, at 320 px as at 430", async () => {
    // As long as a generated title gets (src/sessions/titles.ts), with one long word in it.
    const name = "Refactor the authentication_middleware_for_expired tokens…";
    const owner = await h.connect();
    const { sessionId } = await owner.request("session.create", { repoId: "demo", name });
    await owner.close();
    const whole = `(() => {
      const el = document.querySelector(SELECTOR);
      const r = el.getBoundingClientRect();
      return { text: el.textContent.trim(), clippedDown: el.scrollHeight - el.clientHeight,
        clippedRight: el.scrollWidth - el.clientWidth, past: Math.max(0, r.right - innerWidth),
        pageWider: document.documentElement.scrollWidth - innerWidth };
    })()`;
    const fits = { text: name, clippedDown: 0, clippedRight: 0, past: 0, pageWider: 0 };
    try {
      for (const width of [320, 390, 430]) {
        await page.setViewportSize({ width, height: 844 });
        await page.goto(`${front.url}/app/#/`);
        const link = page.locator(".session-link", { hasText: "Refactor the" });
        await link.waitFor();
        const list = whole.replace(
          "SELECTOR",
          JSON.stringify(`.session-link[href="#/s/${sessionId}"] .title`),
        );
        await expect(page.evaluate(list), `list at ${width}px`).resolves.toEqual(fits);
        await link.click();
        await page.getByRole("heading", { name }).waitFor();
        // The head's title is one line, cut with an ellipsis, its whole text kept (and its tooltip).
        const head = (await page.evaluate(
          whole.replace("SELECTOR", JSON.stringify(".chat-head h1")),
        )) as typeof fits;
        expect(head, `chat head at ${width}px`).toMatchObject({
          text: name,
          clippedDown: 0,
          past: 0,
          pageWider: 0,
        });
        const h1 = page.locator(".chat-head h1");
        await expect(h1.getAttribute("title")).resolves.toBe(name);
        await expect(
          page.evaluate(`getComputedStyle(document.querySelector(".chat-head h1")).textOverflow`),
        ).resolves.toBe("ellipsis");
        const lineHeight = Number(
          await page.evaluate(
            `parseFloat(getComputedStyle(document.querySelector(".chat-head h1")).lineHeight)`,
          ),
        );
        expect((await h1.boundingBox())!.height).toBeLessThan(lineHeight * 1.5);
        // The back link, the status and Changes stay on screen beside it.
        for (const loc of [
          page.getByRole("link", { name: "Sessions", exact: true }),
          page.getByRole("link", { name: "Changes" }),
        ]) {
          const box = (await loc.boundingBox())!;
          expect(box.x + box.width).toBeLessThanOrEqual(width);
        }
      }
    } finally {
      await page.setViewportSize({ width: 390, height: 844 });
    }
    expect(problems).toEqual([]);
  });
});
