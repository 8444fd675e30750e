import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient, type TypedEvent } from "../src/client/client.js";
import type { SignedInvite } from "../src/protocol/invite.js";
import { startHarness, type Harness } from "./helpers/harness.js";
import {
  startPushEndpoint,
  type FakeSubscriber,
  type PermissionPush,
  type PushEndpoint,
} from "./helpers/push-endpoint.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

let h: Harness;
let ep: PushEndpoint;
beforeAll(async () => {
  ep = await startPushEndpoint();
  h = await startHarness({
    config: { security: { profile: "strict" }, push: { coalesceMs: 0 } },
    start: { pushAgent: ep.agent },
  });
});
afterAll(async () => {
  await h?.close();
  await ep?.close();
});

async function ask(
  c: PiClient,
  sessionId: string,
  command: string,
): Promise<TypedEvent<"permission_request">> {
  // Only the call: several sessions wait at once, and each gets its final text when it is answered.
  h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } });
  const asked = c.waitForEvent(sessionId, "permission_request");
  await c.request("prompt", { message: "go" }, sessionId);
  return asked;
}

/** A session whose bash call waits, and the notification the subscriber got for it. */
async function waiting(
  c: PiClient,
  sub: FakeSubscriber,
  command: string,
): Promise<{ sessionId: string; worktree: string; requestId: string; push: PermissionPush }> {
  const { session } = await c.request("session.create", { repoId: "demo" });
  const pushed = ep.next(sub.path);
  const req = await ask(c, session.id, command);
  const push = (await pushed).payload as PermissionPush;
  expect(push.requestId).toBe(req.payload.id);
  return { sessionId: session.id, worktree: session.worktree, requestId: req.payload.id, push };
}

async function act(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.server.url}/push/action`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const rowsOf = (requestId: string): string =>
  `UPDATE push_action_tokens SET %s WHERE request_id = '${requestId.replace(/'/g, "")}'`;

/** The run's end, its final text queued for the model. */
function answered(sessionId: string): Promise<unknown> {
  h.llm.enqueue({ kind: "text", text: "done" });
  return owner.waitForEvent(sessionId, "agent_end");
}

/** Only permission requests are pushed to the owner's devices here (see tests/push-policy.test.ts for the rest). */
const PERMISSION_ONLY = { turnEnded: false, turnFailed: false, interrupted: false };

let owner: PiClient;
let phone: FakeSubscriber;
beforeAll(async () => {
  owner = await h.connect();
  // These tests follow permission notifications one by one: the other kinds would come between.
  await owner.request("push.preferences.set", { kinds: PERMISSION_ONLY });
  phone = ep.subscriber("owner-phone");
  await owner.request("push.subscribe", { subscription: phone.subscription });
});

describe("Approve and Deny from a notification", () => {
  it("Approve releases exactly that call, once; every client sees it close", async () => {
    const w = await waiting(owner, phone, "echo approved > from-push.txt");
    expect(w.push.actions.map((a) => a.action)).toEqual(["allow", "deny"]);
    expect(readFileSync(join(h.dataDir, "state.db")).includes(Buffer.from(w.push.actionToken))).toBe(false);
    const resolved = owner.waitForEvent(w.sessionId, "permission_resolved");
    const ended = answered(w.sessionId);
    const r = await act({ token: w.push.actionToken, requestId: w.requestId, action: "allow" });
    expect(r).toMatchObject({ status: 200, json: { id: w.requestId, decision: "allow_once" } });
    expect((await resolved).payload).toMatchObject({ decision: "allow_once", by: "notification" });
    await ended;
    expect(readFileSync(join(w.worktree, "from-push.txt"), "utf8")).toBe("approved\n");
    const again = await act({ token: w.push.actionToken, requestId: w.requestId, action: "deny" });
    expect(again).toMatchObject({ status: 401, json: { error: { code: "unauthorized" } } });
  });

  it("Deny denies, and the model is told", async () => {
    const w = await waiting(owner, phone, "echo no > denied.txt");
    const ended = answered(w.sessionId);
    expect((await act({ token: w.push.actionToken, requestId: w.requestId, action: "deny" })).status).toBe(
      200,
    );
    await ended;
    const tool = h.llm.requests
      .at(-1)!
      .body.messages.filter((m) => m.role === "tool")
      .at(-1);
    expect(String(tool?.content)).toContain("denied");
  });

  it("a token answers no other request, and is spent by the attempt", async () => {
    const a = await waiting(owner, phone, "touch a.txt");
    const b = await waiting(owner, phone, "touch b.txt");
    const wrong = await act({ token: a.push.actionToken, requestId: b.requestId, action: "allow" });
    expect(wrong).toMatchObject({ status: 401, json: { error: { code: "unauthorized" } } });
    expect(String(wrong.json.error && (wrong.json.error as { message: string }).message)).toContain(
      "another request",
    );
    expect((await act({ token: a.push.actionToken, requestId: a.requestId, action: "allow" })).status).toBe(
      401,
    );
    const ended = answered(b.sessionId);
    expect((await act({ token: b.push.actionToken, requestId: b.requestId, action: "deny" })).status).toBe(
      200,
    );
    await ended;
    const endedA = answered(a.sessionId);
    await owner.request("permission.respond", { id: a.requestId, decision: "deny_once" });
    await endedA;
  });

  it("refused when the waiting call is not the one hashed, and after expiry", async () => {
    const w = await waiting(owner, phone, "touch hashed");
    h.server.db.prepare(rowsOf(w.requestId).replace("%s", "call_sha256 = 'ff'")).run();
    const r = await act({ token: w.push.actionToken, requestId: w.requestId, action: "allow" });
    expect(r).toMatchObject({ status: 401 });
    expect((r.json.error as { message: string }).message).toContain("not the one shown");

    const fresh = await waiting(owner, phone, "touch expired");
    h.server.db.prepare(rowsOf(fresh.requestId).replace("%s", `expires_at = ${Date.now() - 1}`)).run();
    const late = await act({ token: fresh.push.actionToken, requestId: fresh.requestId, action: "allow" });
    expect(late).toMatchObject({ status: 401, json: { error: { code: "unauthorized" } } });
    for (const x of [w, fresh]) {
      const ended = answered(x.sessionId);
      await owner.request("permission.respond", { id: x.requestId, decision: "deny_once" });
      await ended;
    }
  });

  it("a token lives at most 10 minutes and never past its request", async () => {
    const w = await waiting(owner, phone, "touch ttl");
    const row = h.server.db
      .prepare("SELECT expires_at FROM push_action_tokens WHERE request_id = ?")
      .get(w.requestId) as { expires_at: number };
    const req = (await owner.request("permission.list", {})).requests.find((r) => r.id === w.requestId)!;
    expect(row.expires_at).toBeLessThanOrEqual(Math.min(Date.now() + 10 * 60_000, req.expiresAt));
    const ended = answered(w.sessionId);
    await owner.request("permission.respond", { id: w.requestId, decision: "deny_once" });
    await ended;
  });

  it("dead once its device is revoked", async () => {
    const { stdout } = await exec(process.execPath, [BIN, "pair", "--json", "--data-dir", h.dataDir]);
    const pairingToken = (JSON.parse(stdout) as SignedInvite).invite.pairingToken;
    const res = await fetch(`${h.server.url}/pair`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pairingToken, deviceName: "lost phone" }),
    });
    const paired = (await res.json()) as { token: string; deviceId: string };
    const device = await PiClient.connect(h.server.url, { token: paired.token });
    const lost = ep.subscriber("lost-phone");
    await device.request("push.preferences.set", { kinds: PERMISSION_ONLY });
    await device.request("push.subscribe", { subscription: lost.subscription });
    const pushedOwner = ep.next(phone.path);
    const w = await waiting(owner, lost, "touch revoked");
    await pushedOwner;
    await owner.request("devices.revoke", { device: "lost phone" });
    const r = await act({ token: w.push.actionToken, requestId: w.requestId, action: "allow" });
    expect(r).toMatchObject({ status: 401, json: { error: { code: "unauthorized" } } });
    const ended = answered(w.sessionId);
    await owner.request("permission.respond", { id: w.requestId, decision: "deny_once" });
    await ended;
  });

  it("bad bodies get a typed 400", async () => {
    for (const body of [{}, { token: "x".repeat(40), requestId: "p_1", action: "maybe" }, "nope"]) {
      const r = await act(body);
      expect(r).toMatchObject({ status: 400, json: { error: { code: "invalid_request" } } });
    }
  });

  it("push.redact: the payload holds opaque ids only", async () => {
    const file = join(h.dataDir, "config.json");
    const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, push: { redact: true } }));
    try {
      const w = await waiting(owner, phone, "touch secret-command");
      expect(Object.keys(w.push).sort()).toEqual([
        "actionToken",
        "actions",
        "kind",
        "requestId",
        "sessionId",
      ]);
      expect(JSON.stringify(w.push)).not.toContain("secret-command");
      expect(JSON.stringify(w.push)).not.toContain("bash");
      const ended = answered(w.sessionId);
      expect((await act({ token: w.push.actionToken, requestId: w.requestId, action: "deny" })).status).toBe(
        200,
      );
      await ended;
    } finally {
      writeFileSync(file, JSON.stringify(config));
    }
  });
});
