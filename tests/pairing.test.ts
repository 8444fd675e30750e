import { execFile } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdentityError, PiClient } from "../src/client/client.js";
import { loadIdentity } from "../src/pairing/identity.js";
import { PairingService } from "../src/pairing/pairing.js";
import { canonicalJson, decodeInvite, verifyInvite, type SignedInvite } from "../src/protocol/invite.js";
import { openDb } from "../src/store/db.js";
import { PairingTokens } from "../src/store/pairing-tokens.js";
import { TokenStore } from "../src/store/tokens.js";
import { startHarness, tmp, TOKEN, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ start: { pairRateLimit: 20 } });
});
afterAll(async () => {
  await h?.close();
});

/** `pi-server pair --json` as a user runs it, against the harness's data dir. */
async function pairCli(...args: string[]): Promise<SignedInvite & { encoded: string }> {
  const { stdout } = await exec(process.execPath, [BIN, "pair", "--json", "--data-dir", h.dataDir, ...args]);
  return JSON.parse(stdout) as SignedInvite & { encoded: string };
}

async function postPair(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.server.url}/pair`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("invites", () => {
  it("are signed by the server key; changing any byte breaks the signature", () => {
    const dir = tmp("invite");
    const identity = loadIdentity(dir);
    const db = openDb(join(dir, "state.db"));
    const signed = new PairingService(identity, new PairingTokens(db), new TokenStore(db)).createInvite({
      hosts: ["192.168.1.2", "box"],
      port: 3141,
      scheme: "https",
      tlsFingerprint: "ab".repeat(32),
      ttlMs: 60_000,
    });
    db.close();
    expect(verifyInvite(signed, Date.now())).toEqual({ ok: true });
    expect(loadIdentity(dir).publicKey).toBe(identity.publicKey);
    expect(statSync(join(dir, "server.key")).mode & 0o777).toBe(0o600);

    const text = canonicalJson(signed.invite);
    let broken = 0;
    for (let i = 0; i < text.length; i++) {
      const flipped = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ 1) + text.slice(i + 1);
      let invite: SignedInvite["invite"];
      try {
        invite = JSON.parse(flipped) as SignedInvite["invite"];
      } catch {
        broken++;
        continue;
      }
      if (!verifyInvite({ invite, signature: signed.signature }).ok) broken++;
    }
    expect(broken).toBe(text.length);
    const sig = Buffer.from(signed.signature, "base64url");
    sig[10] = (sig[10] ?? 0) ^ 0x80;
    expect(verifyInvite({ invite: signed.invite, signature: sig.toString("base64url") }).ok).toBe(false);
    expect(verifyInvite(signed, signed.invite.expiresAt + 1)).toEqual({
      ok: false,
      reason: "invite expired",
    });
  });
});

describe("the pairing QR code", () => {
  /** `pi-server pair` as printed to a pipe (no tty: $COLUMNS, else 80, is the width). */
  async function pairText(hosts: string[], columns = "", extra: string[] = []): Promise<string> {
    const args = [BIN, "pair", ...hosts.flatMap((x) => ["--host", x]), ...extra, "--data-dir", h.dataDir];
    const { stdout } = await exec(process.execPath, args, { env: { ...process.env, COLUMNS: columns } });
    return stdout;
  }
  const ansi = new RegExp(String.raw`\x1b\[[0-9;]*m`, "g");
  const qrLines = (out: string): string[] => out.split("\n").filter((l) => /[▀▄█]/.test(l));
  const width = (lines: string[]): number =>
    Math.max(...lines.map((l) => Array.from(l.replace(ansi, "")).length));

  async function expectCodeOf(out: string, link: string | undefined): Promise<void> {
    const lines = qrLines(out);
    expect(lines.length).toBeGreaterThan(20);
    // Measured for this invite: 91 columns at qrcode's default level M, 79 at L.
    expect(width(lines)).toBeLessThanOrEqual(80);
    const { default: QRCode } = await import("qrcode");
    const expected = await QRCode.toString(link!, {
      type: "terminal",
      small: true,
      errorCorrectionLevel: "L",
    });
    expect(lines).toEqual(qrLines(expected));
    // Modules plus a one-module quiet zone on each side.
    expect(width(lines)).toBe(QRCode.create(link!, { errorCorrectionLevel: "L" }).modules.size + 2);
  }

  it("fits an 80-column terminal for a real one-address invite, and opens the web app", async () => {
    // A phone's camera opens what the code carries: the web app's link, so any phone can pair.
    const out = await pairText(["192.168.1.20"]);
    const link = /^ {2}web app: (\S+)$/m.exec(out)?.[1];
    expect(link).toMatch(/^http:\/\/192\.168\.1\.20:\d+\/app\/#pair=/);
    await expectCodeOf(out, link);
    expect(out).toContain("Scan this with the phone's camera: it opens the web app");
  });

  it("carries the native app's link with --qr app, and refuses another kind", async () => {
    const out = await pairText(["192.168.1.20"], "", ["--qr", "app"]);
    const link = /^ {2}app: (\S+)$/m.exec(out)?.[1];
    expect(link).toMatch(/^pi-server:\/\/pair\?invite=/);
    await expectCodeOf(out, link);
    const bad = await exec(process.execPath, [BIN, "pair", "--qr", "png", "--data-dir", h.dataDir]).then(
      () => undefined,
      (err: { stderr: string; code: number }) => err,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toContain('pi-server: --qr must be web or app, not "png"');
  });

  it("is not drawn where it would wrap; the output gives its width and what to do", async () => {
    // Two names make the invite a QR version larger: 83 columns.
    const hosts = ["192.168.178.23", "workstation.local"];
    const narrow = await pairText(hosts);
    expect(qrLines(narrow)).toEqual([]);
    const said = /^The QR code is (\d+) columns wide and this terminal has 80, so it is not drawn/m.exec(
      narrow,
    );
    expect(said, narrow).not.toBeNull();
    expect(Number(said![1])).toBeGreaterThan(80);
    expect(narrow).toContain(
      `widen the terminal to ${said![1]} columns and run pair again, or open the web app link`,
    );
    expect(narrow).toMatch(/^ {2}web app: http:\/\/192\.168\.178\.23:\d+\/app\/#pair=/m);
    // A terminal that wide gets the code, as wide as the note said.
    const wide = await pairText(hosts, said![1]);
    expect(width(qrLines(wide))).toBe(Number(said![1]));
  });
});

describe("pairing a phone", () => {
  it("turns a CLI invite into a device token once; the device verifies the server in hello", async () => {
    const signed = await pairCli("--name", "my phone");
    expect(decodeInvite(signed.encoded)).toEqual({ invite: signed.invite, signature: signed.signature });
    expect(verifyInvite(signed, Date.now()).ok).toBe(true);
    expect(signed.invite).toMatchObject({
      port: h.server.port,
      scheme: "http",
      serverId: h.server.identity.serverId,
    });

    const first = await postPair({ pairingToken: signed.invite.pairingToken });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ deviceName: "my phone", serverId: signed.invite.serverId });
    const deviceToken = first.json.token as string;
    expect(deviceToken).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const again = await postPair({ pairingToken: signed.invite.pairingToken, deviceName: "thief" });
    expect(again).toMatchObject({
      status: 401,
      json: { error: { code: "unauthorized", data: { reason: "used" } } },
    });

    const phone = await PiClient.connect(h.server.url, {
      token: deviceToken,
      serverPublicKey: signed.invite.publicKey,
    });
    expect(phone.hello?.principal).toEqual({ kind: "device", name: "my phone" });
    expect(phone.hello?.identity.serverId).toBe(signed.invite.serverId);
    await expect(phone.request("devices.list", {})).rejects.toMatchObject({ code: "forbidden" });
    expect((await phone.request("session.list", {})).sessions).toBeInstanceOf(Array);

    const owner = await h.connect();
    const { devices } = await owner.request("devices.list", {});
    expect(devices.find((d) => d.name === "my phone")).toMatchObject({ lastAddress: "127.0.0.1" });

    // Scanned from another process: closing a descriptor of state.db here would drop the
    // server's SQLite locks (POSIX lock semantics are per process).
    for (const secret of [deviceToken, signed.invite.pairingToken]) {
      // -s: a file that vanishes while grep walks the tree (a journal, a sandbox's temp file) is not
      // a finding; what counts is that no file is listed.
      const grep = await exec("grep", ["-r", "-l", "-s", "-F", secret, h.dataDir]).catch(
        (e: { code: number; stdout: string }) => e,
      );
      expect(grep).toMatchObject({ stdout: "" });
      expect((grep as { code?: number }).code).toBeGreaterThanOrEqual(1);
    }
    await phone.close();
  });

  it("refuses a wrong server key and a wrong pairing token", async () => {
    const other = loadIdentity(tmp("other-id"));
    await expect(
      PiClient.connect(h.server.url, { token: TOKEN, serverPublicKey: other.publicKey }),
    ).rejects.toBeInstanceOf(IdentityError);
    expect(await postPair({ pairingToken: "not-a-token" })).toMatchObject({
      status: 401,
      json: { error: { data: { reason: "invalid" } } },
    });
    expect(await postPair({ pairingToken: 42 })).toMatchObject({
      status: 400,
      json: { error: { code: "invalid_request" } },
    });
    expect(await postPair({ pairingToken: "x", extra: 1 })).toMatchObject({ status: 400 });
    const garbage = await fetch(`${h.server.url}/pair`, {
      method: "POST",
      headers: { "content-type": "application/xml" },
      body: "<garbage/>",
    });
    expect(garbage.status).toBe(415);
    expect(await garbage.json()).toMatchObject({ error: { code: "invalid_request" } });
    const wrongBearer = await fetch(`${h.server.url}/`, { headers: { authorization: "Bearer nope" } });
    expect(await wrongBearer.json()).toMatchObject({
      error: { code: "unauthorized", message: "invalid token" },
    });
  });

  it("refuses an expired invite", async () => {
    const signed = await pairCli("--ttl", "1s");
    await new Promise((r) => setTimeout(r, 1100));
    expect(await postPair({ pairingToken: signed.invite.pairingToken })).toMatchObject({
      status: 401,
      json: { error: { data: { reason: "expired" } } },
    });
  });

  it("refuses a TTL beyond what the profile allows", async () => {
    await expect(pairCli("--ttl", "2h")).rejects.toMatchObject({
      stderr: expect.stringContaining("--ttl must be"),
    });
  });
});

describe("revoking", () => {
  it("closes a revoked device's socket at once (protocol) and within seconds (CLI, another process)", async () => {
    const owner = await h.connect();
    const pairOne = async (name: string): Promise<PiClient> => {
      const signed = await pairCli("--name", name);
      const { json } = await postPair({ pairingToken: signed.invite.pairingToken });
      expect(json).toMatchObject({ deviceName: name });
      return PiClient.connect(h.server.url, { token: json.token as string });
    };
    const a = await pairOne("tablet");
    const closedA = new Promise<number>((resolve) => a.onClose((code) => resolve(code)));
    expect((await owner.request("devices.revoke", { device: "tablet" })).revoked).toHaveLength(1);
    expect(await closedA).toBe(4401);
    await expect(owner.request("devices.revoke", { device: "tablet" })).rejects.toMatchObject({
      code: "not_found",
    });

    const twin = await pairCli("--name", "laptop");
    const first = await postPair({ pairingToken: twin.invite.pairingToken });
    expect(first.json.deviceName).toBe("laptop");
    const second = await postPair({ pairingToken: (await pairCli("--name", "laptop")).invite.pairingToken });
    expect(second.json.deviceName).toBe("laptop (2)");
    const b = await PiClient.connect(h.server.url, { token: second.json.token as string });
    expect((await owner.request("devices.revoke", { device: "laptop" })).revoked).toHaveLength(1);
    const closedB = new Promise<number>((resolve) => b.onClose((code) => resolve(code)));
    const out = await exec(process.execPath, [BIN, "token", "revoke", "laptop (2)", "--data-dir", h.dataDir]);
    expect(out.stdout).toContain("revoked");
    expect(await closedB).toBe(4401);
  });

  it("rotates the owner token from the CLI: the new one works, the old one does not", async () => {
    const dataDir = tmp("rotate");
    const { stdout } = await exec(process.execPath, [BIN, "token", "rotate", "--data-dir", dataDir]);
    const fresh = /^\s+([A-Za-z0-9_-]{43})$/m.exec(stdout)?.[1];
    expect(fresh).toBeTruthy();
    const { stdout: again } = await exec(process.execPath, [
      BIN,
      "token",
      "rotate",
      "--all",
      "--data-dir",
      dataDir,
    ]);
    const newest = /^\s+([A-Za-z0-9_-]{43})$/m.exec(again)?.[1];
    const db = openDb(join(dataDir, "state.db"));
    const store = new TokenStore(db);
    expect(store.verify(fresh!)).toBeUndefined();
    expect(store.verify(newest!)).toMatchObject({ kind: "owner" });
    db.close();
  });
});

describe("transport hardening", () => {
  it("refuses foreign Origins and Hosts, on HTTP and on the WebSocket upgrade", async () => {
    const url = h.server.url;
    const host = new URL(url).host;
    const get = (headers: Record<string, string>) =>
      fetch(`${url}/health`, { headers }).then((r) => r.status);
    expect(await get({ origin: `http://${host}` })).toBe(200);
    expect(await get({ origin: "https://evil.example" })).toBe(403);
    expect(await get({ origin: "null" })).toBe(403);

    const { request } = await import("node:http");
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${url}/health`, { headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    expect(await status({ host: "evil.example:80" })).toBe(403);
    expect(await status({ host: `localhost:${h.server.port}` })).toBe(200);

    const { default: WebSocket } = await import("ws");
    const upgrade = (headers: Record<string, string>) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`${url.replace("http", "ws")}/rpc`, { headers });
        ws.on("open", () => {
          ws.close();
          resolve("open");
        });
        ws.on("unexpected-response", (req, res) => {
          req.destroy();
          resolve(String(res.statusCode));
        });
        ws.on("error", () => resolve("error"));
      });
    expect(await upgrade({ Origin: "https://evil.example" })).toBe("403");
    expect(await upgrade({ Host: "attacker.example" })).toBe("403");
    expect(await upgrade({ Origin: `http://${host}` })).toBe("open");
  });

  it("throttles repeated failed authentications per address, never a valid token", async () => {
    const dataDir = tmp("throttle");
    writeFileSync(join(dataDir, "config.json"), "{}");
    const { startServer } = await import("../src/server.js");
    const s = await startServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      envToken: "right-token-0123456789",
      logLevel: "silent",
    });
    try {
      // Requests with no token at all (a browser opening the page) guess nothing: not counted.
      for (let i = 0; i < 15; i++) expect((await fetch(`${s.url}/`)).status).toBe(401);
      for (let i = 0; i < 10; i++) {
        await expect(PiClient.connect(s.url, { token: "wrong" })).rejects.toThrow();
      }
      const blocked = await PiClient.open(s.url);
      const closed = new Promise<number>((resolve) => blocked.onClose((code) => resolve(code)));
      await expect(blocked.request("hello", { token: "still-wrong" })).rejects.toMatchObject({
        code: "limit_exceeded",
      });
      expect(await closed).toBe(4429);
      expect((await fetch(`${s.url}/`, { headers: { authorization: "Bearer wrong" } })).status).toBe(429);
      // The valid token is never throttled.
      const ok = await PiClient.connect(s.url, { token: "right-token-0123456789" });
      await ok.close();
      const res = await fetch(`${s.url}/`, { headers: { authorization: "Bearer right-token-0123456789" } });
      expect(res.status).toBe(200);
    } finally {
      await s.close();
    }
  });
});
