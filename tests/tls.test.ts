import { execFile } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { IdentityError, PiClient } from "../src/client/client.js";
import type { SignedInvite } from "../src/protocol/invite.js";
import { startServer, StartupError, type RunningServer } from "../src/server.js";
import { tmp } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);
const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(
  config: object,
  host = "127.0.0.1",
): Promise<{ server: RunningServer; dataDir: string }> {
  const dataDir = tmp("tls");
  writeFileSync(join(dataDir, "config.json"), JSON.stringify(config));
  const server = await startServer({
    dataDir,
    port: 0,
    host,
    envToken: "tok-0123456789abcdef",
    logLevel: "silent",
  });
  running.push(server);
  return { server, dataDir };
}

describe("TLS", () => {
  it("self-signed: serves wss with a pinned certificate whose fingerprint every invite carries", async () => {
    const { server, dataDir } = await start({ tls: { mode: "self-signed" } });
    expect(server.url).toMatch(/^https:\/\//);
    expect(server.tlsFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(dataDir, "identity", "tls.key")).mode & 0o777).toBe(0o600);

    const { stdout } = await exec(process.execPath, [BIN, "pair", "--json", "--data-dir", dataDir]);
    const invite = (JSON.parse(stdout) as SignedInvite).invite;
    expect(invite).toMatchObject({
      scheme: "https",
      port: server.port,
      tlsFingerprint: server.tlsFingerprint,
    });

    const client = await PiClient.connect(server.url, {
      token: "tok-0123456789abcdef",
      tlsFingerprint: invite.tlsFingerprint,
      serverPublicKey: invite.publicKey,
    });
    expect((await client.request("session.list", {})).sessions).toEqual([]);
    await client.close();

    await expect(
      PiClient.connect(server.url, { token: "tok-0123456789abcdef", tlsFingerprint: "00".repeat(32) }),
    ).rejects.toBeInstanceOf(IdentityError);
    // Without the pin, nothing vouches for the certificate.
    await expect(PiClient.connect(server.url, { token: "tok-0123456789abcdef" })).rejects.toThrow(
      /self[- ]signed|certificate/i,
    );

    const fingerprint = server.tlsFingerprint;
    await server.close();
    const again = await startServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      envToken: "tok-0123456789abcdef",
      logLevel: "silent",
    });
    running.push(again);
    expect(again.tlsFingerprint).toBe(fingerprint);
  });

  it("manual: needs both files, and serves the given certificate", async () => {
    await expect(start({ tls: { mode: "manual" } })).rejects.toThrow(/certFile and tls.keyFile/);
    const { dataDir } = await start({ tls: { mode: "self-signed" } });
    const { server } = await start({
      tls: {
        mode: "manual",
        certFile: join(dataDir, "identity", "tls.crt"),
        keyFile: join(dataDir, "identity", "tls.key"),
      },
    });
    const first = running[running.length - 2]!;
    expect(server.tlsFingerprint).toBe(first.tlsFingerprint);
  });
});

describe("security profiles", () => {
  it("strict refuses a non-loopback bind without TLS, and allows it with TLS or on loopback", async () => {
    await expect(start({ security: { profile: "strict" } }, "0.0.0.0")).rejects.toBeInstanceOf(StartupError);
    const withTls = await start({ security: { profile: "strict" }, tls: { mode: "self-signed" } }, "0.0.0.0");
    expect(withTls.server.url).toMatch(/^https:/);
    const loopback = await start({ security: { profile: "strict" } }, "127.0.0.1");
    expect(loopback.server.url).toMatch(/^http:/);
  });
});
