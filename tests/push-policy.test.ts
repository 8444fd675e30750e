import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PiClient } from "../src/client/client.js";
import type { SignedInvite } from "../src/protocol/invite.js";
import { startHarness, TOKEN, type Harness } from "./helpers/harness.js";
import {
  startPushEndpoint,
  type FakeSubscriber,
  type PushEndpoint,
  type ReceivedPush,
} from "./helpers/push-endpoint.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

interface Payload {
  kind: string;
  sessionId?: string;
  requestId?: string;
  title?: string;
  body?: string;
  actionToken?: string;
  actions?: unknown[];
  count?: number;
  counts?: Record<string, number>;
  sessionIds?: string[];
}

let h: Harness;
let ep: PushEndpoint;
let owner: PiClient;
/** The owner's phone: every kind, no quiet hours. */
let phone: FakeSubscriber;

beforeAll(async () => {
  ep = await startPushEndpoint();
  h = await startHarness({
    config: { security: { profile: "strict" }, push: { coalesceMs: 0 } },
    start: { pushAgent: ep.agent },
  });
  owner = await h.connect();
  phone = ep.subscriber("owner-phone");
  await owner.request("push.subscribe", { subscription: phone.subscription });
});
afterAll(async () => {
  await h?.close();
  await ep?.close();
});

const payload = (p: ReceivedPush): Payload => p.payload as Payload;
/** What a subscriber was sent since `mark` (an index into ep.received). */
const since = (mark: number, s: FakeSubscriber): Payload[] =>
  ep.received.slice(mark).flatMap((p) => (p.path === s.path ? [payload(p)] : []));

/** The first push to `s` from now on that matches (others, sent meanwhile, are passed over). */
function nextOf(s: FakeSubscriber, match: (p: Payload) => boolean): Promise<Payload> {
  const mark = ep.received.length;
  return vi.waitFor(
    () => {
      const p = since(mark, s).find(match);
      if (!p) throw new Error(`no matching push to ${s.path} yet`);
      return p;
    },
    { timeout: 20_000, interval: 20 },
  );
}

function setCoalesceMs(ms: number): void {
  const file = join(h.dataDir, "config.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as { push?: Record<string, unknown> };
  writeFileSync(file, JSON.stringify({ ...config, push: { ...config.push, coalesceMs: ms } }));
}

async function session(name: string, c: PiClient = owner): Promise<string> {
  const { session } = await c.request("session.create", { repoId: "demo", name });
  return session.id;
}

/** A turn that answers `text`; resolves once the session is idle again. */
async function turn(sessionId: string, text: string, c: PiClient = owner): Promise<void> {
  h.llm.enqueue({ kind: "text", text });
  const idle = c.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle");
  await c.request("prompt", { message: "go" }, sessionId);
  await idle;
}

/** A bash call that waits for approval; resolves with the request's id. */
async function ask(sessionId: string, command: string): Promise<string> {
  h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } });
  const asked = owner.waitForEvent(sessionId, "permission_request");
  await owner.request("prompt", { message: "go" }, sessionId);
  return (await asked).payload.id;
}

async function deny(sessionId: string, requestId: string): Promise<void> {
  h.llm.enqueue({ kind: "text", text: "denied, stopping" });
  const idle = owner.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle");
  await owner.request("permission.respond", { id: requestId, decision: "deny_once" });
  await idle;
}

/** A paired device (not the owner): its own token id, so its own preferences. */
async function pairDevice(name: string): Promise<PiClient> {
  const { stdout } = await exec(process.execPath, [BIN, "pair", "--json", "--data-dir", h.dataDir]);
  const pairingToken = (JSON.parse(stdout) as SignedInvite).invite.pairingToken;
  const res = await fetch(`${h.server.url}/pair`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pairingToken, deviceName: name }),
  });
  const paired = (await res.json()) as { token: string };
  return PiClient.connect(h.server.url, { token: paired.token });
}

/** "HH:MM" in UTC, `minutes` from now. */
function utcClock(minutes: number): string {
  const d = new Date(Date.now() + minutes * 60_000);
  return `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

describe("when pushes go", () => {
  it("a turn that ended and one that failed reach the device, with the session's name", async () => {
    const id = await session("release-notes");
    const ended = nextOf(phone, (p) => p.kind === "turnEnded" && p.sessionId === id);
    await turn(id, "The notes are written.");
    expect(await ended).toEqual({
      kind: "turnEnded",
      sessionId: id,
      title: "release-notes finished",
      body: "The notes are written.",
    });

    const failed = nextOf(phone, (p) => p.kind === "turnFailed" && p.sessionId === id);
    h.llm.enqueue({ kind: "error", status: 400, body: "the model refused the request" });
    const end = owner.waitForEvent(id, "agent_end");
    await owner.request("prompt", { message: "again" }, id);
    expect((await end).payload.success).toBe(false);
    const f = await failed;
    expect(f).toMatchObject({ kind: "turnFailed", sessionId: id, title: "release-notes failed" });
    expect(f.body).toContain("400");
    expect(f.actions).toBeUndefined();
  });

  it("nothing about a session while a visible client is attached; again once it is hidden or gone", async () => {
    const watchedId = await session("watched");
    const otherId = await session("other");
    const viewer = await h.connect();
    await viewer.request("session.attach", { sessionId: watchedId });
    expect(await viewer.setVisibility(true)).toEqual({ visible: true });

    // A turn ending and a permission request in the watched session: neither is pushed. The other
    // session's turn, after them, is the next push the phone gets.
    let mark = ep.received.length;
    await turn(watchedId, "done while watched");
    const waitingId = await ask(watchedId, "git push");
    const sentinel = nextOf(phone, (p) => p.sessionId === otherId);
    await turn(otherId, "other done");
    await sentinel;
    expect(since(mark, phone).filter((p) => p.sessionId === watchedId)).toEqual([]);

    // Hidden (the screen went off) with the request unanswered: it is pushed now, buttons and all.
    const late = nextOf(phone, (p) => p.kind === "permission" && p.sessionId === watchedId);
    expect(await viewer.setVisibility(false)).toEqual({ visible: false });
    expect(await late).toMatchObject({ requestId: waitingId, actionToken: expect.any(String) });
    await deny(watchedId, waitingId);

    // Pushes about it go again.
    let pushed = nextOf(phone, (p) => p.kind === "turnEnded" && p.sessionId === watchedId);
    await turn(watchedId, "done while hidden");
    expect((await pushed).body).toBe("done while hidden");

    // Visible again, then the connection goes: pushes go again too.
    await viewer.setVisibility(true);
    mark = ep.received.length;
    await turn(watchedId, "watched again");
    const sentinel2 = nextOf(phone, (p) => p.sessionId === otherId);
    await turn(otherId, "other again");
    await sentinel2;
    expect(since(mark, phone).filter((p) => p.sessionId === watchedId)).toEqual([]);
    await viewer.close();
    pushed = nextOf(phone, (p) => p.kind === "turnEnded" && p.sessionId === watchedId);
    await turn(watchedId, "done after the viewer left");
    expect((await pushed).body).toBe("done after the viewer left");
  });

  it("a visible client attached to another session holds back nothing", async () => {
    const a = await session("looked-at");
    const b = await session("not-looked-at");
    const viewer = await h.connect();
    await viewer.request("session.attach", { sessionId: a });
    await viewer.setVisibility(true);
    const pushed = nextOf(phone, (p) => p.kind === "turnEnded" && p.sessionId === b);
    await turn(b, "b done");
    await pushed;
    await viewer.close();
  });

  it("a burst coalesces: the first request at once with its buttons, then one summary with the count", async () => {
    const burst = ep.subscriber("burst-phone");
    const device = await pairDevice("burst phone");
    await device.request("push.subscribe", { subscription: burst.subscription });
    // A window long enough that the three requests below fall in it on a slow machine.
    setCoalesceMs(5000);
    try {
      const ids = await Promise.all(["one", "two", "three"].map((n) => session(`burst-${n}`)));
      const first = nextOf(burst, () => true);
      const second = nextOf(burst, (p) => p.kind === "summary");
      const requests = await Promise.all(ids.map((id, i) => ask(id, `echo ${i}`)));
      const f = await first;
      expect(f.kind).toBe("permission");
      expect(requests).toContain(f.requestId);
      expect(f.actionToken).toEqual(expect.any(String));
      expect(f.actions).toHaveLength(2);
      const s = await second;
      expect(s).toMatchObject({
        kind: "summary",
        title: "3 sessions need you",
        body: "3 approvals waiting",
        count: 3,
        counts: { permission: 3 },
      });
      expect([...(s.sessionIds ?? [])].sort()).toEqual([...ids].sort());
      expect(s.actionToken).toBeUndefined();
      expect(s.actions).toBeUndefined();
      setCoalesceMs(0);
      for (const [i, id] of ids.entries()) await deny(id, requests[i] as string);
    } finally {
      setCoalesceMs(0);
      await device.close();
    }
  });
});

describe("per-device preferences", () => {
  let device: PiClient;
  let tablet: FakeSubscriber;
  beforeAll(async () => {
    device = await pairDevice("tablet");
    tablet = ep.subscriber("tablet");
    await device.request("push.subscribe", { subscription: tablet.subscription });
  });
  afterAll(async () => {
    await device.close();
  });

  it("defaults to every kind, no quiet hours; a kind switched off is not sent to that device only", async () => {
    expect(await device.request("push.preferences.get", {})).toEqual({
      kinds: { permission: true, turnEnded: true, turnFailed: true, interrupted: true },
      quietHours: null,
    });
    expect(await device.request("push.preferences.set", { kinds: { turnEnded: false } })).toEqual({
      kinds: { permission: true, turnEnded: false, turnFailed: true, interrupted: true },
      quietHours: null,
    });
    const id = await session("prefs");
    const mark = ep.received.length;
    // The owner's phone still gets the turn's end; the tablet then gets only the permission request.
    const onPhone = nextOf(phone, (p) => p.kind === "turnEnded" && p.sessionId === id);
    await turn(id, "finished");
    await onPhone;
    const onTablet = nextOf(tablet, (p) => p.sessionId === id);
    const requestId = await ask(id, "git push");
    expect(await onTablet).toMatchObject({ kind: "permission", requestId });
    expect(since(mark, tablet).map((p) => p.kind)).toEqual(["permission"]);
    await deny(id, requestId);
    // Each device its own: the owner's preferences did not change.
    expect((await owner.request("push.preferences.get", {})).kinds.turnEnded).toBe(true);
  });

  it("quiet hours hold back turn ends but not permission requests; outside them everything goes", async () => {
    const quiet = { start: utcClock(-1), end: utcClock(30), timeZone: "UTC" };
    expect(
      await device.request("push.preferences.set", { kinds: { turnEnded: true }, quietHours: quiet }),
    ).toEqual({
      kinds: { permission: true, turnEnded: true, turnFailed: true, interrupted: true },
      quietHours: quiet,
    });
    expect((await device.request("push.preferences.get", {})).quietHours).toEqual(quiet);
    const id = await session("night");
    let mark = ep.received.length;
    const onPhone = nextOf(phone, (p) => p.kind === "turnEnded" && p.sessionId === id);
    await turn(id, "finished at night");
    await onPhone;
    const onTablet = nextOf(tablet, (p) => p.sessionId === id);
    const requestId = await ask(id, "git push --force");
    expect(await onTablet).toMatchObject({ kind: "permission", requestId });
    expect(since(mark, tablet).map((p) => p.kind)).toEqual(["permission"]);
    await deny(id, requestId);

    // A window that is not now (it crosses midnight: start after end).
    await device.request("push.preferences.set", {
      quietHours: { start: utcClock(60), end: utcClock(-60), timeZone: "UTC" },
    });
    mark = ep.received.length;
    const ended = nextOf(tablet, (p) => p.kind === "turnEnded" && p.sessionId === id);
    await turn(id, "finished by day");
    expect((await ended).body).toBe("finished by day");
    // null removes the window.
    expect((await device.request("push.preferences.set", { quietHours: null })).quietHours).toBeNull();
    expect(mark).toBeLessThan(ep.received.length);
  });

  it("bad preferences and visibility params are typed errors", async () => {
    const bad = (method: "push.preferences.set", params: unknown): Promise<unknown> =>
      device.request(method, params as never).then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(await bad("push.preferences.set", { quietHours: { start: "25:00", end: "07:00" } })).toMatchObject(
      {
        code: "invalid_request",
      },
    );
    expect(
      await bad("push.preferences.set", {
        quietHours: { start: "22:00", end: "07:00", timeZone: "Mars/Olympus" },
      }),
    ).toMatchObject({ code: "invalid_request", data: { field: "quietHours.timeZone" } });
    expect(await bad("push.preferences.set", { quietHours: { start: "07:00", end: "07:00" } })).toMatchObject(
      {
        code: "invalid_request",
        data: { field: "quietHours" },
      },
    );
    // A kind this server does not know is ignored (params are open to newer clients), not stored.
    expect(
      (await device.request("push.preferences.set", { kinds: { everything: false } } as never)).kinds,
    ).toEqual({ permission: true, turnEnded: true, turnFailed: true, interrupted: true });
    expect(await bad("push.preferences.set", { kinds: { turnEnded: "no" } })).toMatchObject({
      code: "invalid_request",
    });
    await expect(device.request("client.visibility", { visible: "yes" } as never)).rejects.toMatchObject({
      code: "invalid_request",
    });
    // Nothing of the refused calls was kept.
    expect((await device.request("push.preferences.get", {})).quietHours).toBeNull();
  });

  it("push.test reaches every device whatever its preferences; a paired device may not ring the others", async () => {
    await device.request("push.preferences.set", { kinds: { permission: false, turnEnded: false } });
    const toPhone = nextOf(phone, (p) => p.kind === "test");
    const toTablet = nextOf(tablet, (p) => p.kind === "test");
    const r = await owner.request("push.test", {});
    const subscriptions = (
      h.server.db.prepare("SELECT COUNT(*) AS n FROM push_subscriptions").get() as { n: number }
    ).n;
    expect(r.channels).toEqual([{ channel: "webpush", devices: subscriptions, delivered: subscriptions }]);
    expect(await toPhone).toMatchObject({ kind: "test", title: "pi-server test notification" });
    await toTablet;
    await expect(device.request("push.test", {})).rejects.toMatchObject({ code: "forbidden" });

    // The CLI prints the same per channel.
    const { stdout } = await exec(process.execPath, [BIN, "push", "test", "--data-dir", h.dataDir], {
      env: { ...process.env, PI_SERVER_TOKEN: TOKEN },
    });
    expect(stdout).toContain(`Web Push: ${subscriptions} of ${subscriptions} devices reached`);
    const json = await exec(process.execPath, [BIN, "push", "test", "--json", "--data-dir", h.dataDir], {
      env: { ...process.env, PI_SERVER_TOKEN: TOKEN },
    });
    expect(JSON.parse(json.stdout)).toEqual({
      channels: [{ channel: "webpush", devices: subscriptions, delivered: subscriptions }],
    });
  });
});

describe("interrupted", () => {
  it("a turn cut short by a server stop is pushed as interrupted", async () => {
    const id = await session("long-build");
    h.llm.enqueue({ kind: "hang", text: "building" });
    const running = owner.waitForEvent(id, "session_status", (e) => e.payload.status === "running");
    await owner.request("prompt", { message: "build it" }, id);
    await running;
    const pushed = nextOf(phone, (p) => p.kind === "interrupted" && p.sessionId === id);
    await h.restart();
    expect(await pushed).toMatchObject({
      kind: "interrupted",
      sessionId: id,
      title: "long-build was interrupted",
      body: "the server stopped during the turn",
    });
    owner = await h.connect();
  });

  it("a turn a crashed server left running is pushed as interrupted at the next start", async () => {
    const id = await session("crashed-build");
    await turn(id, "first part done");
    await h.server.close();
    // What kill -9 during a turn leaves in state.db: the session still marked running.
    const db = new Database(join(h.dataDir, "state.db"));
    db.prepare("UPDATE sessions SET status = 'running' WHERE id = ?").run(id);
    db.close();
    const pushed = nextOf(phone, (p) => p.kind === "interrupted" && p.sessionId === id);
    await h.restart();
    expect(await pushed).toMatchObject({ title: "crashed-build was interrupted" });
    owner = await h.connect();
  });
});
