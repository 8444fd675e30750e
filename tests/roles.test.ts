import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { escapeControl } from "../src/cli/terminal.js";
import { hasControlChars } from "../src/protocol/control-chars.js";
import type { SignedInvite } from "../src/protocol/invite.js";
import { startHarness, type Harness } from "./helpers/harness.js";

/** Control characters other than the tab and newline the CLI's own layout uses. */
const rawControls = (out: string): boolean => hasControlChars(out.replace(/[\t\n]/g, ""));

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ start: { pairRateLimit: 100 } });
});
afterAll(async () => {
  await h?.close();
});

/** The CLI in its own process: opening state.db here would drop the in-process server's locks. */
async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args, "--data-dir", h.dataDir]);
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

async function postPair(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.server.url}/pair`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function invite(): Promise<string> {
  const { stdout } = await cli("pair", "--json");
  return (JSON.parse(stdout) as SignedInvite).invite.pairingToken;
}

async function pairDevice(name: string): Promise<PiClient> {
  const r = await postPair({ pairingToken: await invite(), deviceName: name });
  expect(r.status).toBe(200);
  return PiClient.connect(h.server.url, { token: r.json.token as string });
}

describe("device names at pairing", () => {
  it("refuses reserved names and control characters with a typed error, and keeps the invite usable", async () => {
    const pairingToken = await invite();
    for (const deviceName of [
      "owner",
      "Owner",
      "admin",
      "server",
      "cli",
      "policy",
      " ",
      "phone\u001b[2J",
      "a\u202eb",
      "x\n",
    ]) {
      const r = await postPair({ pairingToken, deviceName });
      expect(r.status, deviceName).toBe(400);
      expect(r.json).toMatchObject({
        error: { code: "invalid_request", data: { reason: "device_name" } },
      });
    }
    expect((await postPair({ pairingToken, deviceName: "fine phone" })).status).toBe(200);
    const bad = await cli("pair", "--json", "--name", "owner");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("reserved");
  });

  it("token list, rules list and audit print control characters escaped", async () => {
    // A name that got into the database some other way (an older version) must still print safely.
    expect(escapeControl("ph\u001b[31mone\u202e\u0007")).toBe("ph\\x1b[31mone\\u202e\\x07");
    const evil = "git status \u001b]0;pwned\u0007\u001b[2K";
    const added = await cli("rules", "add", "deny", "bash", evil, "--note", "n\u001b[1m");
    expect(added.code).toBe(0);
    for (const out of [added.stdout, (await cli("rules", "list")).stdout]) {
      expect(rawControls(out)).toBe(false);
      expect(out).toContain("\\x1b]0;pwned\\x07");
    }
    // The audit entry of the CLI's rule change quotes the pattern; it too prints without raw controls.
    const audit = (await cli("audit")).stdout;
    expect(audit).toContain("rule added: deny bash");
    expect(rawControls(audit)).toBe(false);
    // A device name stored before names were checked, written by another process (see cli()).
    const insert = `const D = require("better-sqlite3"); const db = new D(process.argv[1]);
      db.prepare("INSERT INTO tokens (id, kind, name, hash, created_at) VALUES ('legacy1', 'device', ?, 'ab12', 0)")
        .run("old\\u001b[2Jphone"); db.close();`;
    await exec(process.execPath, ["-e", insert, join(h.dataDir, "state.db")]);
    const list = await cli("token", "list");
    expect(list.stdout).toContain("old\\x1b[2Jphone");
    expect(rawControls(list.stdout)).toBe(false);
  });
});

describe("what a device may do", () => {
  it("uses sessions, but changing rules, other devices' audit and others' sessions need the owner or an admin", async () => {
    const owner = await h.connect();
    const phone = await pairDevice("phone");
    const tablet = await pairDevice("tablet");

    const ownersSession = (await owner.request("session.create", {})).session;
    const phoneSession = (await phone.request("session.create", {})).session;
    expect((await phone.request("session.list", {})).sessions.map((s) => s.id)).toContain(ownersSession.id);

    const allowAll = { tool: "*", decision: "allow", scope: "global" } as const;
    await expect(phone.request("rules.add", allowAll)).rejects.toMatchObject({ code: "forbidden" });
    const { rule } = await owner.request("rules.add", {
      tool: "bash",
      match: "rm *",
      decision: "deny",
      scope: "global",
    });
    await expect(phone.request("rules.remove", { id: rule.id })).rejects.toMatchObject({ code: "forbidden" });
    expect((await phone.request("rules.list", {})).rules.map((r) => r.id)).toContain(rule.id);

    await expect(phone.request("session.delete", { sessionId: ownersSession.id })).rejects.toMatchObject({
      code: "forbidden",
    });
    await expect(tablet.request("session.delete", { sessionId: phoneSession.id })).rejects.toMatchObject({
      code: "forbidden",
    });
    await expect(
      phone.request("audit.list", { limit: 10, sessionId: ownersSession.id }),
    ).rejects.toMatchObject({ code: "forbidden" });
    // Without a session filter a device sees only its own sessions' entries: not the owner's rule change.
    const own = (await phone.request("audit.list", { limit: 100 })).entries;
    expect(own.every((e) => e.sessionId === phoneSession.id)).toBe(true);
    // The owner sees the rule change, audited with who made it.
    const all = (await owner.request("audit.list", { limit: 100 })).entries;
    expect(all.find((e) => e.ruleId === rule.id)).toMatchObject({
      layer: "rules",
      decision: "deny",
      by: "PI_SERVER_TOKEN",
    });

    // The device may delete what it created.
    expect(await phone.request("session.delete", { sessionId: phoneSession.id, force: true })).toMatchObject({
      deleted: true,
    });

    // Only the owner grants; the grant applies to the open connection at once, and can be taken back.
    await expect(phone.request("devices.grant", { device: "tablet", role: "admin" })).rejects.toMatchObject({
      code: "forbidden",
    });
    await owner.request("devices.grant", { device: "phone", role: "admin" });
    const added = await phone.request("rules.add", {
      tool: "bash",
      match: "ls",
      decision: "allow",
      scope: "global",
    });
    await phone.request("rules.remove", { id: added.rule.id });
    const entries = (await owner.request("audit.list", { limit: 100 })).entries.filter(
      (e) => e.ruleId === added.rule.id,
    );
    expect(entries.map((e) => [e.summary.split(":")[0], e.by])).toEqual([
      ["rule removed", "phone"],
      ["rule added", "phone"],
    ]);
    expect((await owner.request("devices.list", {})).devices.find((d) => d.name === "phone")?.role).toBe(
      "admin",
    );
    const viaCli = await cli("token", "grant", "phone", "user");
    expect(viaCli.code).toBe(0);
    await expect(phone.request("rules.add", allowAll)).rejects.toMatchObject({ code: "forbidden" });
    await expect(owner.request("devices.grant", { device: "nobody", role: "admin" })).rejects.toMatchObject({
      code: "not_found",
    });
    await owner.request("session.delete", { sessionId: ownersSession.id, force: true });
    await Promise.all([owner, phone, tablet].map((c) => c.close()));
  });
});
