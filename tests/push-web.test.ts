import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PiClient, TypedEvent } from "../src/client/client.js";
import { startHarness, type Harness } from "./helpers/harness.js";
import { startPushEndpoint, type PushEndpoint } from "./helpers/push-endpoint.js";

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
  h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } }, { kind: "text", text: "done" });
  const asked = c.waitForEvent(sessionId, "permission_request");
  await c.request("prompt", { message: "go" }, sessionId);
  return asked;
}

const subscriptionCount = (): number =>
  (h.server.db.prepare("SELECT COUNT(*) AS n FROM push_subscriptions").get() as { n: number }).n;

describe("Web Push", () => {
  it("keeps its VAPID key pair in identity/vapid.json (0600) and hands out the public key", async () => {
    const c = await h.connect();
    const file = join(h.dataDir, "identity", "vapid.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const keys = JSON.parse(readFileSync(file, "utf8")) as { publicKey: string };
    expect(await c.request("push.config", {})).toEqual({ vapidPublicKey: keys.publicKey });
  });

  it("refuses a plain-http endpoint", async () => {
    const c = await h.connect();
    const sub = ep.subscriber("plain").subscription;
    await expect(
      c.request("push.subscribe", {
        subscription: { ...sub, endpoint: sub.endpoint.replace("https:", "http:") },
      }),
    ).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("a waiting tool call reaches a subscribed device, encrypted (RFC 8291) and VAPID-signed", async () => {
    const c = await h.connect();
    const phone = ep.subscriber("phone");
    const { vapidPublicKey } = await c.request("push.config", {});
    await c.request("push.subscribe", { subscription: phone.subscription });
    const { session } = await c.request("session.create", { repoId: "demo", name: "deploy-fix" });
    const pushed = ep.next(phone.path);
    const req = await ask(c, session.id, "git push origin main");
    const push = await pushed;
    expect(ep.rejected).toEqual([]);
    expect(push.vapidKey).toBe(vapidPublicKey);
    expect(push.jwt.aud).toBe(ep.origin);
    expect(push.headers.urgency).toBe("high");
    expect(push.payload).toMatchObject({
      kind: "permission",
      requestId: req.payload.id,
      sessionId: session.id,
      tool: "bash",
      body: "git push origin main",
    });
    expect((push.payload as { title: string }).title).toContain("deploy-fix");
    expect((push.payload as { title: string }).title).toContain("bash");
    const ended = c.waitForEvent(session.id, "agent_end");
    await c.request("permission.respond", { id: req.payload.id, decision: "deny_once" });
    await ended;
    await c.request("push.unsubscribe", { endpoint: phone.subscription.endpoint });
  });

  it("a subscription its push service calls gone (410) is dropped", async () => {
    const c = await h.connect();
    const gone = ep.subscriber("gone");
    ep.answer(gone.path, 410);
    await c.request("push.subscribe", { subscription: gone.subscription });
    expect(subscriptionCount()).toBe(1);
    const { session } = await c.request("session.create", { repoId: "demo" });
    const pushed = ep.next(gone.path);
    const req = await ask(c, session.id, "git push");
    await pushed;
    await vi.waitFor(() => expect(subscriptionCount()).toBe(0), { timeout: 10_000, interval: 20 });
    const ended = c.waitForEvent(session.id, "agent_end");
    await c.request("permission.respond", { id: req.payload.id, decision: "deny_once" });
    await ended;
  });
});
