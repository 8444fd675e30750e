/**
 * The web app's notifications against the real server: the settings switch subscribes and
 * unsubscribes, and the service worker shows what the server pushed and answers Approve and Deny
 * over POST /push/action with the real single-use action token.
 *
 * Headless Chromium has no push service (PushManager.subscribe fails with "Registration failed -
 * permission denied"), so after checking that the app reports that failure, the test stands in for
 * the browser vendor's push service: PushManager.subscribe hands out a subscription whose endpoint is
 * the local Web Push endpoint (tests/helpers/push-endpoint.ts), which decrypts what the server sends.
 * That payload is delivered to the service worker as a real push event (DevTools'
 * ServiceWorker.deliverPushMessage); the notification it shows is read back from the registration,
 * and its Approve and Deny are NotificationEvents given to the worker's own handler.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AxeBuilder } from "@axe-core/playwright";
import type { Browser, BrowserContext, CDPSession, Page, Worker } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PiClient, TypedEvent } from "../src/client/client.js";
import { startHarness, type Harness } from "./helpers/harness.js";
import {
  startPushEndpoint,
  type FakeSubscriber,
  type PermissionPush,
  type PushEndpoint,
  type ReceivedPush,
} from "./helpers/push-endpoint.js";
import { CHROMIUM, DIST_WEB, launchChromium, makeInviteLink, phone, serverApp } from "./helpers/web.js";

const ready = existsSync(CHROMIUM) && existsSync(join(DIST_WEB, "index.html"));

interface Shown {
  title: string;
  body: string;
  tag: string;
  actions: { action: string; title: string }[];
  data: { kind?: string; sessionId?: string; requestId?: string; token?: string; status?: number };
}

let h: Harness;
let ep: PushEndpoint;
let browser: Browser;
let owner: PiClient;

beforeAll(async () => {
  if (!ready) return;
  ep = await startPushEndpoint();
  h = await startHarness({
    config: { security: { profile: "strict" }, push: { coalesceMs: 0 } },
    start: { pushAgent: ep.agent },
  });
  browser = await launchChromium();
  owner = await h.connect();
});
afterAll(async () => {
  await browser?.close();
  await h?.close();
  await ep?.close();
});

/** A new phone context, paired through the app's own pairing screen, on the Servers screen. */
async function pairedPhone(
  init?: string,
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const p = await phone(browser);
  const front = serverApp(h);
  await p.context.grantPermissions(["notifications"], { origin: front.url });
  if (init) await p.context.addInitScript({ content: init });
  await p.page.goto(makeInviteLink(h, front));
  await p.page.getByLabel("Name of this device").fill("push phone");
  await p.page.getByRole("button", { name: "Pair this device" }).click();
  await p.page.getByRole("heading", { name: "Sessions" }).waitFor();
  await p.page.getByRole("link", { name: "Servers" }).click();
  await p.page.getByRole("heading", { name: "Notifications" }).waitFor();
  return p;
}

/**
 * Stands in for the browser vendor's push service: PushManager hands out the local endpoint's
 * subscription (kept in localStorage, so it outlives a reload) with the key the app asked for.
 * Browser code is passed as text: the tests compile without the DOM's types.
 */
function standInPushService(sub: FakeSubscriber["subscription"]): string {
  return `(() => {
    const KEY = "test-push-subscription";
    const sub = ${JSON.stringify(sub)};
    const make = (key) => ({
      endpoint: sub.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: new Uint8Array(key).buffer },
      toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }),
      unsubscribe: () => {
        localStorage.removeItem(KEY);
        return Promise.resolve(true);
      },
    });
    PushManager.prototype.subscribe = function (opts) {
      const key = [...new Uint8Array(opts.applicationServerKey)];
      localStorage.setItem(KEY, JSON.stringify(key));
      return Promise.resolve(make(key));
    };
    PushManager.prototype.getSubscription = function () {
      const raw = localStorage.getItem(KEY);
      return Promise.resolve(raw ? make(JSON.parse(raw)) : null);
    };
  })()`;
}

/** Runs `body` (an async function's body, as text) in the page or the service worker. */
function run<T>(where: { evaluate(script: string): Promise<unknown> }, body: string): Promise<T> {
  return where.evaluate(`(async () => { ${body} })()`) as Promise<T>;
}

const subscriptions = (): { endpoint: string; token_id: string }[] =>
  h.server.db.prepare("SELECT endpoint, token_id FROM push_subscriptions").all() as {
    endpoint: string;
    token_id: string;
  }[];

async function notifications(page: Page, tag?: string): Promise<Shown[]> {
  return run(
    page,
    `const reg = await navigator.serviceWorker.ready;
     const list = await reg.getNotifications(${tag ? JSON.stringify({ tag }) : "undefined"});
     return list.map((n) => ({
       title: n.title,
       body: n.body,
       tag: n.tag,
       actions: (n.actions ?? []).map((a) => ({ action: a.action, title: a.title })),
       data: n.data,
     }));`,
  );
}

/** The worker's own notificationclick listener, given the notification it shows under `tag`. */
function click(worker: Worker, tag: string, action = ""): Promise<void> {
  return run(
    worker,
    `const [note] = await self.registration.getNotifications({ tag: ${JSON.stringify(tag)} });
     self.held = note;
     self.dispatchEvent(new NotificationEvent("notificationclick", { notification: note, action: ${JSON.stringify(action)} }));`,
  );
}

/** The worker's click handler awaited, on the notification under `tag` (or the one held by `click`). */
function answer(worker: Worker, action: "allow" | "deny", tag?: string): Promise<number> {
  return run(
    worker,
    tag
      ? `const [note] = await self.registration.getNotifications({ tag: ${JSON.stringify(tag)} });
         return handleClick(note, ${JSON.stringify(action)});`
      : `return handleClick(self.held, ${JSON.stringify(action)});`,
  );
}

const storedKey = (page: Page): Promise<string | null> =>
  run(page, `return localStorage.getItem("test-push-subscription");`);

/** The notification with `tag` once it has `title`. */
async function shown(page: Page, tag: string, title: string | RegExp): Promise<Shown> {
  let found: Shown | undefined;
  await vi.waitFor(
    async () => {
      found = (await notifications(page, tag)).find((n) =>
        typeof title === "string" ? n.title === title : title.test(n.title),
      );
      expect(found).toBeDefined();
    },
    { timeout: 15_000, interval: 50 },
  );
  return found!;
}

/** Delivers a payload to the app's service worker as a real push event. */
async function deliver(cdp: CDPSession, registrationId: string, origin: string, payload: unknown) {
  await cdp.send("ServiceWorker.deliverPushMessage", {
    origin,
    registrationId,
    data: JSON.stringify(payload),
  });
}

/** A session whose bash call waits, and the payload the server pushed to the subscriber for it. */
async function waiting(
  sub: FakeSubscriber,
  command: string,
): Promise<{ sessionId: string; worktree: string; push: PermissionPush }> {
  const { session } = await owner.request("session.create", { repoId: "demo" });
  // The previous test's turn-ended notification may still be on its way: the next permission push is this one's.
  const nextPermission = async (): Promise<ReceivedPush> => {
    for (;;) {
      const p = await ep.next(sub.path);
      if ((p.payload as { kind?: string }).kind === "permission") return p;
    }
  };
  const pushed = nextPermission();
  h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } });
  const asked: Promise<TypedEvent<"permission_request">> = owner.waitForEvent(
    session.id,
    "permission_request",
  );
  await owner.request("prompt", { message: "go" }, session.id);
  const req = await asked;
  const push = (await pushed).payload as PermissionPush;
  expect(push.requestId).toBe(req.payload.id);
  return { sessionId: session.id, worktree: session.worktree, push };
}

describe.skipIf(!ready)("web app notifications", () => {
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let worker: Worker;
  let cdp: CDPSession;
  let registrationId: string;
  let origin: string;
  let deviceId: string;
  let phoneSub: FakeSubscriber;

  beforeAll(async () => {
    if (!ready) return;
    phoneSub = ep.subscriber("web-phone");
    ({ context, page, problems } = await pairedPhone());
    origin = serverApp(h).url;
    worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
    deviceId = (
      h.server.db.prepare("SELECT id FROM tokens WHERE name = 'push phone'").get() as { id: string }
    ).id;
  });

  it("headless Chromium has no push service: the switch says why it could not subscribe", async () => {
    const toggle = page.getByRole("switch", { name: "Notify this device when a session needs me" });
    await toggle.waitFor();
    await expect(toggle.isEnabled()).resolves.toBe(true);
    await toggle.click();
    await page
      .getByRole("alert")
      .filter({ hasText: /Could not turn notifications on: .*Registration failed/ })
      .waitFor();
    await expect(toggle.isChecked()).resolves.toBe(false);
    expect(subscriptions()).toEqual([]);
  });

  it("turns on: subscribes with the server's VAPID key and registers the subscription", async () => {
    await context.addInitScript({ content: standInPushService(phoneSub.subscription) });
    await page.reload();
    const toggle = page.getByRole("switch", { name: "Notify this device when a session needs me" });
    await toggle.waitFor();
    await expect(toggle.isChecked()).resolves.toBe(false);
    await toggle.click();
    await vi.waitFor(() => expect(toggle.isChecked()).resolves.toBe(true), { timeout: 15_000 });
    expect(subscriptions()).toEqual([{ endpoint: phoneSub.subscription.endpoint, token_id: deviceId }]);
    // The key the app subscribed with is the server's.
    const { vapidPublicKey } = await owner.request("push.config", {});
    const key = JSON.parse((await storedKey(page))!) as number[];
    expect(Buffer.from(key).toString("base64url")).toBe(vapidPublicKey);
    // After a reload the switch reads the subscription back as on.
    await page.reload();
    await vi.waitFor(() => expect(toggle.isChecked()).resolves.toBe(true), { timeout: 15_000 });
    // This device's kinds and quiet hours, saved as they change (the phone's time zone).
    const prefs = () =>
      h.server.db
        .prepare(
          "SELECT turn_ended, quiet_start, quiet_end, quiet_time_zone FROM push_preferences WHERE token_id = ?",
        )
        .get(deviceId);
    const turnEnded = page.getByRole("checkbox", { name: "A turn ended" });
    await expect(turnEnded.isChecked()).resolves.toBe(true);
    await turnEnded.click();
    await vi.waitFor(() => expect(prefs()).toMatchObject({ turn_ended: 0, quiet_start: null }), {
      timeout: 15_000,
    });
    await page.getByLabel("From").fill("21:30");
    await page.getByRole("checkbox", { name: "Only approvals between these times" }).click();
    const zone = await run<string>(page, "return Intl.DateTimeFormat().resolvedOptions().timeZone;");
    await vi.waitFor(
      () =>
        expect(prefs()).toMatchObject({ quiet_start: "21:30", quiet_end: "07:00", quiet_time_zone: zone }),
      { timeout: 15_000 },
    );
    await page.getByRole("checkbox", { name: "Only approvals between these times" }).click();
    await page.getByRole("checkbox", { name: "A turn ended" }).click();
    await vi.waitFor(() => expect(prefs()).toMatchObject({ turn_ended: 1, quiet_start: null }), {
      timeout: 15_000,
    });
    const { violations } = await new AxeBuilder({ page }).analyze();
    const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(bad.map((v) => v.id)).toEqual([]);

    cdp = await context.newCDPSession(page);
    const reg = new Promise<string>((resolve) =>
      cdp.on("ServiceWorker.workerRegistrationUpdated", (e) => {
        const r = e.registrations.find((x) => x.scopeURL === `${origin}/app/` && !x.isDeleted);
        if (r) resolve(r.registrationId);
      }),
    );
    await cdp.send("ServiceWorker.enable");
    registrationId = await reg;
  });

  it("shows a waiting call with Approve and Deny; Approve runs exactly that call, once", async () => {
    const w = await waiting(phoneSub, "echo approved > from-sw.txt");
    await deliver(cdp, registrationId, origin, w.push);
    const tag = `pi-${w.push.requestId}`;
    const n = await shown(page, tag, w.push.title!);
    expect(n.body).toBe("echo approved > from-sw.txt");
    expect(n.actions).toEqual([
      { action: "allow", title: "Approve" },
      { action: "deny", title: "Deny" },
    ]);
    expect(n.data).toMatchObject({ kind: "permission", sessionId: w.sessionId, requestId: w.push.requestId });

    const resolved = owner.waitForEvent(w.sessionId, "permission_resolved");
    h.llm.enqueue({ kind: "text", text: "done from the notification" });
    const ended = owner.waitForEvent(w.sessionId, "agent_end");
    await click(worker, tag, "allow");
    expect((await resolved).payload).toMatchObject({
      decision: "allow_once",
      by: `notification (device ${deviceId})`,
    });
    await ended;
    expect(readFileSync(join(w.worktree, "from-sw.txt"), "utf8")).toBe("approved\n");
    const done = await shown(page, tag, "Approved");
    expect(done.body).toBe(w.push.title);
    expect(done.actions).toEqual([]);

    // The same notification's button again: the token is spent, and the worker says so.
    const llmCalls = h.llm.requests.length;
    const status = await answer(worker, "allow");
    expect(status).toBe(401);
    const failed = await shown(page, tag, "Could not approve");
    expect(failed.body).toContain("no longer work");
    expect(h.llm.requests.length).toBe(llmCalls);
  });

  it("Deny after another device answered says so; a plain tap opens the session", async () => {
    const w = await waiting(phoneSub, "echo no > never.txt");
    await deliver(cdp, registrationId, origin, w.push);
    const tag = `pi-${w.push.requestId}`;
    await shown(page, tag, w.push.title!);
    h.llm.enqueue({ kind: "text", text: "answered elsewhere" });
    const ended = owner.waitForEvent(w.sessionId, "agent_end");
    await owner.request("permission.respond", { id: w.push.requestId, decision: "allow_once" });
    await ended;
    const status = await answer(worker, "deny", tag);
    expect(status).toBe(404);
    const failed = await shown(page, tag, "Could not deny");
    expect(failed.body).toBe("Already answered elsewhere, or no longer waiting.");

    // Tapping the notification itself opens its session in the open window.
    await click(worker, tag);
    await page.waitForURL(`**/app/#/s/${w.sessionId}`);
    await expect(notifications(page, tag)).resolves.toEqual([]);
  });

  it("a redacted payload shows generic text and still carries the buttons; Deny denies", async () => {
    const configFile = join(h.dataDir, "config.json");
    const config = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>;
    writeFileSync(
      configFile,
      JSON.stringify({ ...config, push: { ...(config.push as object), redact: true } }),
    );
    try {
      const w = await waiting(phoneSub, "echo secret > denied.txt");
      expect(w.push.title).toBeUndefined();
      await deliver(cdp, registrationId, origin, w.push);
      const tag = `pi-${w.push.requestId}`;
      const n = await shown(page, tag, "Approval needed");
      expect(n.body).toBe("A session needs you");
      expect(n.actions.map((a) => a.title)).toEqual(["Approve", "Deny"]);
      h.llm.enqueue({ kind: "text", text: "left it" });
      const ended = owner.waitForEvent(w.sessionId, "agent_end");
      const status = await answer(worker, "deny", tag);
      expect(status).toBe(200);
      await ended;
      expect(existsSync(join(w.worktree, "denied.txt"))).toBe(false);
      const tool = h.llm.requests
        .at(-1)!
        .body.messages.filter((m) => m.role === "tool")
        .at(-1);
      expect(String(tool?.content)).toContain("denied");
      await shown(page, tag, "Denied");
    } finally {
      writeFileSync(configFile, JSON.stringify(config));
    }
  });

  it("other kinds show their text without buttons; a summary opens the list", async () => {
    const { session } = await owner.request("session.create", { repoId: "demo" });
    await deliver(cdp, registrationId, origin, {
      kind: "turnEnded",
      sessionId: session.id,
      title: "fix-tests finished",
      body: "All 12 tests pass.",
    });
    const ended = await shown(page, `pi-turnEnded-${session.id}`, "fix-tests finished");
    expect(ended).toMatchObject({ body: "All 12 tests pass.", actions: [] });
    await deliver(cdp, registrationId, origin, { kind: "interrupted", sessionId: session.id });
    const cut = await shown(page, `pi-interrupted-${session.id}`, "Session interrupted");
    expect(cut.body).toBe("A session was interrupted");
    await deliver(cdp, registrationId, origin, {
      kind: "summary",
      title: "3 sessions need you",
      body: "2 approvals waiting, 1 turn ended",
      sessionIds: ["a", "b", "c"],
    });
    await shown(page, "pi-summary-all", "3 sessions need you");
    await click(worker, "pi-summary-all");
    await page.waitForURL(/\/app\/#\/$/);
    await page.getByRole("heading", { name: "Sessions" }).waitFor();
  });

  it("turns off: unsubscribes and the server forgets the subscription", async () => {
    await page.getByRole("link", { name: "Servers" }).click();
    const toggle = page.getByRole("switch", { name: "Notify this device when a session needs me" });
    await vi.waitFor(() => expect(toggle.isChecked()).resolves.toBe(true), { timeout: 15_000 });
    await toggle.click();
    await vi.waitFor(() => expect(toggle.isChecked()).resolves.toBe(false), { timeout: 15_000 });
    expect(subscriptions()).toEqual([]);
    await expect(storedKey(page)).resolves.toBeNull();
    expect(problems).toEqual([]);
    await context.close();
  });

  it("explains instead where the browser has no Push API, or notifications are blocked", async () => {
    const bare = await pairedPhone("delete window.PushManager;");
    await bare.page.getByText("This browser cannot receive notifications from this page").waitFor();
    await expect(bare.page.getByRole("switch").count()).resolves.toBe(0);
    await bare.context.close();

    const blocked = await pairedPhone(
      `Object.defineProperty(Notification, "permission", { get: () => "denied" });`,
    );
    const toggle = blocked.page.getByRole("switch", { name: "Notify this device when a session needs me" });
    await toggle.waitFor();
    await expect(toggle.isDisabled()).resolves.toBe(true);
    await blocked.page.getByText("Notifications are blocked for this site").waitFor();
    await blocked.context.close();
  });
});
