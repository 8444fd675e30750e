import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PiClient, type TypedEvent } from "../src/client/client.js";
import type { SignedInvite } from "../src/protocol/invite.js";
import { checkApns } from "../src/cli/doctor-checks.js";
import { ApnsProviderToken } from "../src/push/apns-jwt.js";
import { startServer } from "../src/server.js";
import { dataPaths } from "../src/store/paths.js";
import { startApnsEndpoint, type ApnsEndpoint, type ApnsPush } from "./helpers/apns-endpoint.js";
import { startHarness, tmp, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

const KEY_ID = "ABC123DEFG";
const TEAM_ID = "TEAM123456";
const BUNDLE_ID = "com.example.pi";

let keyDir: string;
let keyPath: string;
let publicKey: KeyObject;
let fake: ApnsEndpoint;
let h: Harness;
/** Only permission requests are pushed to the owner's devices here (see tests/push-policy.test.ts for the rest). */
const PERMISSION_ONLY = { turnEnded: false, turnFailed: false, interrupted: false };

let owner: PiClient;

const apnsConfig = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  keyPath,
  keyId: KEY_ID,
  teamId: TEAM_ID,
  bundleId: BUNDLE_ID,
  environment: "development",
  ...over,
});

beforeAll(async () => {
  keyDir = tmp("apns-key");
  const pair = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  publicKey = pair.publicKey;
  keyPath = join(keyDir, `AuthKey_${KEY_ID}.p8`);
  writeFileSync(keyPath, pair.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  fake = await startApnsEndpoint({ publicKey, keyId: KEY_ID, teamId: TEAM_ID, bundleId: BUNDLE_ID });
  h = await startHarness({
    config: { security: { profile: "strict" }, push: { apns: apnsConfig(), coalesceMs: 0 } },
    start: { apns: { origin: fake.origin, ca: fake.ca, backoffMs: [50, 100] } },
  });
  owner = await h.connect();
  // These tests follow permission notifications one by one: the other kinds would come between.
  await owner.request("push.preferences.set", { kinds: PERMISSION_ONLY });
});
afterAll(async () => {
  await h?.close();
  await fake?.close();
  rmSync(keyDir, { recursive: true, force: true });
});

const deviceToken = (): string => randomBytes(32).toString("hex");

const registrations = (deviceToken?: string): number =>
  (
    h.server.db
      .prepare(
        deviceToken === undefined
          ? "SELECT COUNT(*) AS n FROM apns_registrations"
          : "SELECT COUNT(*) AS n FROM apns_registrations WHERE device_token = ?",
      )
      .get(...(deviceToken === undefined ? [] : [deviceToken])) as { n: number }
  ).n;

async function ask(sessionId: string, command: string): Promise<TypedEvent<"permission_request">> {
  // Only the call: the run's final text is queued when it is answered.
  h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } });
  const asked = owner.waitForEvent(sessionId, "permission_request");
  await owner.request("prompt", { message: "go" }, sessionId);
  return asked;
}

/** A session whose bash call waits, and what the fake APNs got for it at `device`. */
async function waiting(
  device: string,
  command: string,
  name?: string,
): Promise<{ sessionId: string; worktree: string; requestId: string; push: ApnsPush }> {
  const { session } = await owner.request("session.create", { repoId: "demo", ...(name && { name }) });
  const pushed = fake.next(device);
  const req = await ask(session.id, command);
  const push = await pushed;
  expect(push.payload.requestId).toBe(req.payload.id);
  return { sessionId: session.id, worktree: session.worktree, requestId: req.payload.id, push };
}

async function deny(w: { sessionId: string; requestId: string }): Promise<void> {
  h.llm.enqueue({ kind: "text", text: "done" });
  const ended = owner.waitForEvent(w.sessionId, "agent_end");
  await owner.request("permission.respond", { id: w.requestId, decision: "deny_once" });
  await ended;
}

async function act(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.server.url}/push/action`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

let phone: string;

describe("APNs", () => {
  it("push.register takes hex device tokens only, for platform apns", async () => {
    for (const params of [
      { platform: "apns", deviceToken: "not-hex".repeat(8) },
      { platform: "apns", deviceToken: "abc" },
      { platform: "apns", deviceToken: "a".repeat(65) },
      { platform: "fcm", deviceToken: deviceToken() },
      { deviceToken: deviceToken() },
    ]) {
      await expect(owner.request("push.register", params as never)).rejects.toMatchObject({
        code: "invalid_request",
      });
    }
    expect(registrations()).toBe(0);
  });

  it("a waiting call reaches the iOS app within seconds; its token approves exactly that call", async () => {
    phone = deviceToken();
    // Upper-case hex is the same token: stored and sent in lower case.
    const { id } = await owner.request("push.register", {
      platform: "apns",
      deviceToken: phone.toUpperCase(),
    });
    expect(id).toMatch(/^ap_/);
    expect(registrations(phone)).toBe(1);
    const before = Date.now();
    const w = await waiting(phone, "echo approved > from-apns.txt", "deploy-fix");
    expect(Date.now() - before).toBeLessThan(30_000);
    expect(fake.rejected).toEqual([]);
    const { push } = w;
    expect(push.headers["apns-topic"]).toBe(BUNDLE_ID);
    expect(push.headers["apns-push-type"]).toBe("alert");
    expect(push.headers["apns-priority"]).toBe("10");
    expect(push.headers["apns-collapse-id"]).toBe(w.requestId);
    const expiration = Number(push.headers["apns-expiration"]);
    expect(expiration).toBeGreaterThan(before / 1000);
    expect(expiration).toBeLessThanOrEqual(Date.now() / 1000 + 10 * 60 + 1);
    expect(push.claims.iss).toBe(TEAM_ID);
    expect(push.payload).toMatchObject({
      aps: { category: "PI_PERMISSION", sound: "default", "thread-id": w.sessionId },
      kind: "permission",
      requestId: w.requestId,
      sessionId: w.sessionId,
      tool: "bash",
    });
    expect(push.payload.aps.alert.title).toContain("deploy-fix");
    expect(push.payload.aps.alert.body).toBe("echo approved > from-apns.txt");
    const token = push.payload.actionToken as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    h.llm.enqueue({ kind: "text", text: "done" });
    const resolved = owner.waitForEvent(w.sessionId, "permission_resolved");
    const ended = owner.waitForEvent(w.sessionId, "agent_end");
    const r = await act({ token, requestId: w.requestId, action: "allow" });
    expect(r).toMatchObject({ status: 200, json: { id: w.requestId, decision: "allow_once" } });
    expect((await resolved).payload).toMatchObject({ decision: "allow_once", by: "notification" });
    await ended;
    expect(readFileSync(join(w.worktree, "from-apns.txt"), "utf8")).toBe("approved\n");
    expect((await act({ token, requestId: w.requestId, action: "allow" })).status).toBe(401);
  });

  it("one provider token and one connection serve many pushes; Apple's ExpiredProviderToken renews it once", async () => {
    const a = await waiting(phone, "touch a");
    const b = await waiting(phone, "touch b");
    expect(b.push.jwt).toBe(a.push.jwt);
    expect(new Set(fake.received.map((p) => p.connection))).toEqual(new Set([1]));
    fake.expire(a.push.jwt);
    const refused = fake.next(phone);
    const retried = fake.next(phone);
    const { session } = await owner.request("session.create", { repoId: "demo" });
    const req = await ask(session.id, "touch c");
    expect((await refused).jwt).toBe(a.push.jwt);
    const again = await retried;
    expect(again.payload.requestId).toBe(req.payload.id);
    expect(again.jwt).not.toBe(a.push.jwt);
    expect(again.claims.iat).toBeGreaterThanOrEqual(a.push.claims.iat);
    // The renewed token is kept for what follows.
    const d = await waiting(phone, "touch d");
    expect(d.push.jwt).toBe(again.jwt);
    for (const w of [a, b, { sessionId: session.id, requestId: req.payload.id }, d]) await deny(w);
    expect(fake.rejected).toEqual([]);
  });

  it("410 Unregistered and 400 BadDeviceToken drop the token: the row goes, nothing more is sent to it", async () => {
    const gone = deviceToken();
    const bad = deviceToken();
    fake.answer(gone, { status: 410, reason: "Unregistered" });
    fake.answer(bad, { status: 400, reason: "BadDeviceToken" });
    await owner.request("push.register", { platform: "apns", deviceToken: gone });
    await owner.request("push.register", { platform: "apns", deviceToken: bad });
    const toGone = fake.next(gone);
    const toBad = fake.next(bad);
    const w = await waiting(phone, "touch x");
    await Promise.all([toGone, toBad]);
    await vi.waitFor(() => expect(registrations(gone) + registrations(bad)).toBe(0), {
      timeout: 10_000,
      interval: 20,
    });
    const next = await waiting(phone, "touch y");
    expect(fake.received.filter((p) => p.deviceToken === gone || p.deviceToken === bad)).toHaveLength(2);
    expect(next.push.deviceToken).toBe(phone);
    await deny(w);
    await deny(next);
  });

  it("429 and 5xx are retried with backoff until delivered", async () => {
    const busy = deviceToken();
    fake.answer(
      busy,
      { status: 429, reason: "TooManyRequests" },
      { status: 503, reason: "ServiceUnavailable" },
    );
    await owner.request("push.register", { platform: "apns", deviceToken: busy });
    const first = fake.next(busy);
    const second = fake.next(busy);
    const third = fake.next(busy);
    const w = await waiting(phone, "touch busy");
    const tries = await Promise.all([first, second, third]);
    expect(new Set(tries.map((p) => p.payload.requestId))).toEqual(new Set([w.requestId]));
    await vi.waitFor(
      () =>
        expect(
          h.server.db
            .prepare("SELECT last_success_at, failures FROM apns_registrations WHERE device_token = ?")
            .get(busy),
        ).toMatchObject({ last_success_at: expect.any(Number), failures: 0 }),
      { timeout: 10_000, interval: 20 },
    );
    await deny(w);
    expect((await owner.request("push.unregister", { platform: "apns", deviceToken: busy })).removed).toBe(
      true,
    );
    expect(registrations(busy)).toBe(0);
  });

  it("push.redact: a generic alert and opaque ids, no command or tool", async () => {
    const file = join(h.dataDir, "config.json");
    const config = JSON.parse(readFileSync(file, "utf8")) as { push: Record<string, unknown> };
    writeFileSync(file, JSON.stringify({ ...config, push: { ...config.push, redact: true } }));
    try {
      const w = await waiting(phone, "touch secret-command", "secret-project");
      expect(w.push.payload.aps.alert).toEqual({
        title: "Approval needed",
        body: "A session waits for your answer",
      });
      expect(Object.keys(w.push.payload).sort()).toEqual([
        "actionToken",
        "aps",
        "kind",
        "requestId",
        "sessionId",
      ]);
      const text = JSON.stringify(w.push.payload);
      for (const leak of ["secret-command", "secret-project", "bash"]) expect(text).not.toContain(leak);
      await deny(w);
    } finally {
      writeFileSync(file, JSON.stringify(config));
    }
  });

  it("after Apple's GOAWAY the next push goes over a new connection", async () => {
    const before = fake.connections();
    fake.goaway();
    const w = await waiting(phone, "touch after-goaway");
    expect(w.push.connection).toBeGreaterThan(before);
    await deny(w);
  });

  it("a revoked device's tokens go with it: no more pushes to them", async () => {
    const { stdout } = await exec(process.execPath, [BIN, "pair", "--json", "--data-dir", h.dataDir]);
    const pairingToken = (JSON.parse(stdout) as SignedInvite).invite.pairingToken;
    const res = await fetch(`${h.server.url}/pair`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pairingToken, deviceName: "lost iphone" }),
    });
    const paired = (await res.json()) as { token: string };
    const device = await PiClient.connect(h.server.url, { token: paired.token });
    const lost = deviceToken();
    await device.request("push.preferences.set", { kinds: PERMISSION_ONLY });
    await device.request("push.register", { platform: "apns", deviceToken: lost });
    // Another device cannot unregister it.
    expect((await owner.request("push.unregister", { platform: "apns", deviceToken: lost })).removed).toBe(
      false,
    );
    const toLost = fake.next(lost);
    const w = await waiting(phone, "touch before-revoke");
    await toLost;
    await deny(w);
    await owner.request("devices.revoke", { device: "lost iphone" });
    expect(registrations(lost)).toBe(0);
    const after = await waiting(phone, "touch after-revoke");
    expect(fake.received.filter((p) => p.deviceToken === lost)).toHaveLength(1);
    await deny(after);
    await device.close().catch(() => undefined);
  });
});

describe("APNs set-up", () => {
  it("push.register on a server without push.apns is a typed error", async () => {
    const plain = await startHarness();
    try {
      const c = await plain.connect();
      await expect(
        c.request("push.register", { platform: "apns", deviceToken: deviceToken() }),
      ).rejects.toMatchObject({ code: "invalid_request", data: { reason: "apns_not_configured" } });
    } finally {
      await plain.close();
    }
  });

  it("an unreadable or wrong key, or a bad key id, stops the start with a clear error (and doctor says so)", async () => {
    const dataDir = tmp("apns-bad");
    const rsa = join(keyDir, "rsa.pem");
    writeFileSync(
      rsa,
      generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }),
    );
    const notPem = join(keyDir, "junk.p8");
    writeFileSync(notPem, "not a key\n");
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        apnsConfig({ keyPath: join(keyDir, "missing.p8") }),
        /push\.apns\.keyPath: cannot read .*missing\.p8 \(ENOENT\)/,
      ],
      [apnsConfig({ keyPath: rsa }), /not an EC P-256 key/],
      [apnsConfig({ keyPath: notPem }), /not a PEM private key/],
      [apnsConfig({ keyId: "short" }), /\/push\/apns\/keyId: must be the key's 10-character Key ID/],
      [apnsConfig({ environment: "staging" }), /\/push\/apns\/environment/],
    ];
    try {
      for (const [apns, message] of cases) {
        writeFileSync(join(dataDir, "config.json"), JSON.stringify({ push: { apns } }));
        await expect(
          startServer({ dataDir, port: 0, host: "127.0.0.1", logLevel: "silent", envToken: "x".repeat(32) }),
        ).rejects.toThrow(message);
      }
      const paths = dataPaths(dataDir);
      expect(checkApns(paths, { push: { apns: apnsConfig({ keyPath: rsa }) as never } })).toMatchObject({
        status: "fail",
        message: expect.stringMatching(/not an EC P-256 key/) as string,
      });
      // Relative to the data dir, where config.json lives.
      writeFileSync(join(dataDir, "AuthKey.p8"), readFileSync(keyPath));
      expect(
        checkApns(paths, { push: { apns: apnsConfig({ keyPath: "AuthKey.p8" }) as never } }),
      ).toMatchObject({
        status: "ok",
      });
      expect(checkApns(paths, {})).toMatchObject({ status: "ok" });
      expect(existsSync(join(dataDir, "server.lock"))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("the provider token is renewed once its refresh interval has passed, not before", () => {
    let now = 1_000_000_000_000;
    const pair = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const t = new ApnsProviderToken({
      key: pair.privateKey,
      keyId: KEY_ID,
      teamId: TEAM_ID,
      refreshMs: 50 * 60_000,
      now: () => now,
    });
    const first = t.get();
    now += 49 * 60_000;
    expect(t.get()).toBe(first);
    now += 60_000;
    const second = t.get();
    expect(second).not.toBe(first);
    const claims = JSON.parse(Buffer.from(second.split(".")[1]!, "base64url").toString()) as { iat: number };
    expect(claims.iat).toBe(Math.floor(now / 1000));
    // A renewal asked with an older token does not throw away a newer one.
    expect(t.renew(first)).toBe(second);
    expect(t.renew(second)).not.toBe(second);
  });
});
