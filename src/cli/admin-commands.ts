import { request as httpsRequest } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Command } from "commander";
import { defaultHosts } from "../pairing/hosts.js";
import { loadIdentity } from "../pairing/identity.js";
import { deviceNameProblem } from "../pairing/device-names.js";
import { inviteLinks, PairingService } from "../pairing/pairing.js";
import { encodeInvite } from "../protocol/invite.js";
import { probeSandbox } from "../runtime/index.js";
import { securityProfile } from "../store/config.js";
import { PairingTokens } from "../store/pairing-tokens.js";
import { processAlive, readRuntime, type RuntimeInfo } from "../store/runtime.js";
import { generateToken, hashToken, TokenStore } from "../store/tokens.js";
import { writeJsonAtomic } from "../store/atomic.js";
import { loadTls } from "../transport/tls.js";
import { escapeControl } from "./terminal.js";
import { pairPiMobile } from "./pair-pi-mobile.js";
import { invokedAs } from "./init-plan.js";
import { NO_DEFAULT_MODEL, readiness } from "./next-steps.js";
import { connectableUrl } from "./owner-client.js";
import { terminalColumns, terminalQr } from "./pair-qr.js";
import {
  ago,
  CliError,
  cliConfig,
  cliPaths,
  DATA_DIR_OPTION,
  parseDuration,
  print,
  withDb,
} from "./context.js";

/** Invite lifetimes per profile: strict keeps the window short. */
const TTL = {
  "tailscale-permissive": { default: 5 * 60_000, max: 60 * 60_000 },
  strict: { default: 2 * 60_000, max: 5 * 60_000 },
} as const;

interface PairOptions {
  host?: string[];
  name?: string;
  ttl?: string;
  json?: boolean;
  piMobile?: boolean;
  qr?: string;
  dataDir?: string;
}

function isLoopbackHost(host: string): boolean {
  return host === "::1" || host === "localhost" || host.startsWith("127.");
}

function runningServer(runtimeFile: string): RuntimeInfo | undefined {
  const rt = readRuntime(runtimeFile);
  return rt && processAlive(rt.pid) ? rt : undefined;
}

/** GET /health, pinning the certificate fingerprint when the server speaks TLS. */
async function probeHealth(rt: RuntimeInfo): Promise<boolean> {
  const host = rt.host === "0.0.0.0" || rt.host === "::" ? "127.0.0.1" : rt.host;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  if (rt.scheme === "http") {
    try {
      const res = await fetch(`http://${hostPart}:${rt.port}/health`, { signal: AbortSignal.timeout(3000) });
      return res.ok;
    } catch {
      return false;
    }
  }
  return new Promise((resolve) => {
    const req = httpsRequest(
      { host, port: rt.port, path: "/health", rejectUnauthorized: false, timeout: 3000 },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        const fp = cert.fingerprint256?.replace(/:/g, "").toLowerCase();
        res.resume();
        resolve(res.statusCode === 200 && (!rt.tlsFingerprint || fp === rt.tlsFingerprint));
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

export function registerAdminCommands(program: Command): void {
  program
    .command("pair")
    .description("make a single-use, signed pairing invite and show it as a QR code")
    .option("--host <h...>", "address(es) the phone should use (default: LAN and Tailscale IPs, hostname)")
    .option("--name <device>", "name for the device that pairs")
    .option("--ttl <duration>", "how long the invite is valid (default 5m; 2m with the strict profile)")
    .option("--json", "print the invite as JSON for scripts")
    .option("--pi-mobile", "make a device for the Pi Mobile / desktop app and print the URL to type into it")
    .option(
      "--qr <link>",
      "which link the QR code carries: web (a phone's camera opens the web app) or app",
      "web",
    )
    .option(...DATA_DIR_OPTION)
    .action(async (o: PairOptions) => {
      const problem = o.name === undefined ? undefined : deviceNameProblem(o.name);
      if (problem) throw new CliError(`--name: ${problem}`);
      if (o.qr !== "web" && o.qr !== "app")
        throw new CliError(`--qr must be web or app, not ${JSON.stringify(o.qr)}`);
      const paths = cliPaths(o.dataDir);
      const config = cliConfig(paths);
      if (o.piMobile) {
        const runtime = runningServer(paths.runtime);
        const tls = !runtime && (config.tls?.mode ?? "off") !== "off";
        pairPiMobile({ paths, config, runtime, host: o.host, name: o.name, json: o.json, tls });
        return;
      }
      const limits = TTL[securityProfile(config)];
      const ttlMs = o.ttl === undefined ? limits.default : parseDuration(o.ttl);
      if (ttlMs <= 0 || ttlMs > limits.max) {
        throw new CliError(
          `--ttl must be between 1s and ${limits.max / 60_000}m with the ${securityProfile(config)} profile`,
        );
      }
      const rt = runningServer(paths.runtime);
      const bound = rt?.host ?? config.host ?? "0.0.0.0";
      if (o.host === undefined && isLoopbackHost(bound)) {
        process.stderr.write(
          `warning: the server ${rt ? "listens" : "is configured to listen"} on ${bound} only, so a phone cannot reach the LAN addresses in this invite.\n` +
            `  For your LAN: \`${invokedAs(o.dataDir)} config set host 0.0.0.0\` and restart (or start it with --host 0.0.0.0).\n` +
            `  Over Tailscale, keeping ${bound}: \`tailscale serve --bg ${rt?.port ?? config.port ?? 3141}\`, then pair with --host <machine>.<tailnet>.ts.net (docs/remote-access.md).\n`,
        );
      }
      const tls = rt ? undefined : await loadTls(config, paths.identity, defaultHosts());
      const identity = loadIdentity(paths.identity);
      const signed = withDb(paths, (db) =>
        new PairingService(identity, new PairingTokens(db), new TokenStore(db)).createInvite({
          hosts: o.host ?? defaultHosts(),
          port: rt?.port ?? config.port ?? 3141,
          scheme: rt?.scheme ?? (tls ? "https" : "http"),
          tlsFingerprint: rt?.tlsFingerprint ?? tls?.fingerprint,
          ttlMs,
          deviceName: o.name,
        }),
      );
      const links = inviteLinks(signed, o.name);
      if (o.json) {
        print(JSON.stringify({ ...signed, encoded: encodeInvite(signed), links }, null, 2));
        return;
      }
      const width = terminalColumns();
      const qr = await terminalQr(o.qr === "app" ? links.app : links.web, width);
      if (qr.text !== undefined) {
        print(qr.text);
        print(
          o.qr === "app"
            ? "Scan this with the pi-server app (a phone's camera cannot open its link; without --qr app the code opens the web app)."
            : "Scan this with the phone's camera: it opens the web app, which pairs. Links carrying the same invite:",
        );
        if (o.qr === "app") print("Links carrying the same invite:");
      } else {
        print(
          `The QR code is ${qr.columns} columns wide and this terminal has ${width}, so it is not drawn (a wrapped code cannot be scanned):`,
        );
        print(
          `widen the terminal to ${qr.columns} columns and run pair again, or open the web app link below on the phone.`,
        );
        print("Links carrying the invite:");
      }
      print(`  app: ${links.app}`);
      print(`  web app: ${links.web}`);
      print(`Server id ${signed.invite.serverId}; valid ${expiresIn(signed.invite.expiresAt)}, once.`);
      if (!rt) print("Note: the server is not running; start it before the invite expires.");
    });

  const token = program.command("token").description("owner token and paired devices");
  token
    .command("rotate")
    .description("replace the owner token (prints the new one once); --all also revokes every device")
    .option("--all", "also revoke every paired device")
    .option(...DATA_DIR_OPTION)
    .action((o: { all?: boolean; dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const fresh = withDb(paths, (db) => new TokenStore(db).rotateOwner(o.all === true));
      print("New owner token (shown once; only its hash is stored):");
      print(`  ${fresh}`);
      print(o.all ? "Every paired device was revoked." : "Paired devices keep working.");
      if (runningServer(paths.runtime))
        print("Connections using a revoked token are closed within a second.");
    });
  token
    .command("list")
    .description("paired devices: name, created, last seen, last address")
    .option("--json", "print JSON")
    .option(...DATA_DIR_OPTION)
    .action((o: { json?: boolean; dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const { devices, ownerSince } = withDb(paths, (db) => {
        const store = new TokenStore(db);
        return { devices: store.devices(), ownerSince: store.ownerCreatedAt() };
      });
      if (o.json) {
        print(JSON.stringify({ ownerTokenCreatedAt: ownerSince ?? null, devices }, null, 2));
        return;
      }
      print(
        `owner token: ${ownerSince ? `created ${ago(ownerSince)}` : "none (set PI_SERVER_TOKEN or start the server)"}`,
      );
      if (devices.length === 0) print("no paired devices; pair one with `pi-server pair`");
      for (const d of devices) {
        print(
          `${d.id}  ${escapeControl(d.name)}  ${d.role}  created ${ago(d.createdAt)}  last seen ${d.lastSeenAt ? ago(d.lastSeenAt) : "never"}  ${escapeControl(d.lastAddress ?? "")}`.trimEnd(),
        );
      }
    });
  token
    .command("revoke <device>")
    .description("revoke a paired device (by id or name); its open connections are closed")
    .option(...DATA_DIR_OPTION)
    .action((device: string, o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const ids = withDb(paths, (db) => new TokenStore(db).revokeDevice(device));
      if (ids.length === 0) throw new CliError(`no paired device "${device}" (see pi-server token list)`);
      print(`revoked ${ids.join(", ")}`);
    });
  token
    .command("metrics")
    .description("make a token that can only read GET /metrics (prints it once; config.json keeps its hash)")
    .option(...DATA_DIR_OPTION)
    .action((o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const config = cliConfig(paths);
      const fresh = generateToken();
      const tokenSha256 = hashToken(fresh).toString("hex");
      writeJsonAtomic(paths.config, { ...config, metrics: { ...config.metrics, tokenSha256 } });
      print("Metrics token (shown once; only its hash is stored; it replaces any earlier one):");
      print(`  ${fresh}`);
      print("Prometheus: authorization: { type: Bearer, credentials: <token> } on GET /metrics");
    });
  token
    .command("grant <device> <role>")
    .description(
      "give a paired device (id or name) a role: admin (change rules, read every audit entry, delete any session) or user (the default)",
    )
    .option(...DATA_DIR_OPTION)
    .action((device: string, role: string, o: { dataDir?: string }) => {
      if (role !== "admin" && role !== "user")
        throw new CliError(`role must be admin or user, not "${role}"`);
      const paths = cliPaths(o.dataDir);
      const ids = withDb(paths, (db) => new TokenStore(db).grantDevice(device, role));
      if (ids.length === 0) throw new CliError(`no paired device "${device}" (see pi-server token list)`);
      print(`${ids.join(", ")} now ${role}; applies to its next request`);
    });

  /** Whether sessions can run their tools as configured, and why not. */
  async function toolsStatus(
    runtime: "sandbox" | "host",
    bwrap: string | undefined,
  ): Promise<{ runtime: "sandbox" | "host"; ok: boolean; problem?: string }> {
    if (runtime === "host") return { runtime, ok: true };
    const probe = await probeSandbox(bwrap);
    return probe.ok ? { runtime, ok: true } : { runtime, ok: false, problem: probe.reason };
  }

  program
    .command("status")
    .description("is the server running, where, and what it holds")
    .option("--json", "print JSON")
    .option(...DATA_DIR_OPTION)
    .action(async (o: { json?: boolean; dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const rt = runningServer(paths.runtime);
      const healthy = rt ? await probeHealth(rt) : false;
      const ready = await readiness(paths, { demo: rt?.demo === true && healthy });
      const stats = withDb(paths, (db) => {
        const store = new TokenStore(db);
        const sessions = db
          .prepare("SELECT COUNT(*) AS total, SUM(status = 'running') AS running FROM sessions")
          .get() as { total: number; running: number | null };
        const waiting = db
          .prepare(
            "SELECT COUNT(*) AS n, COUNT(DISTINCT session_id) AS sessions FROM permission_requests WHERE status = 'pending'",
          )
          .get() as { n: number; sessions: number };
        return { devices: store.devices().length, ownerSince: store.ownerCreatedAt(), sessions, waiting };
      });
      const status = {
        running: rt !== undefined,
        healthy,
        pid: rt?.pid ?? null,
        url: rt ? connectableUrl(rt) : null,
        listeningOn: rt ? `${rt.host}:${rt.port}` : null,
        model: ready.model,
        modelProblem: ready.modelProblem,
        repos: ready.repos,
        version: rt?.version ?? null,
        piVersion: rt?.piVersion ?? null,
        dataDir: paths.root,
        pairedDevices: stats.devices,
        // Rows still marked running while no server runs were cut short; the next start says so.
        sessions: rt
          ? { total: stats.sessions.total, running: stats.sessions.running ?? 0, interrupted: 0 }
          : { total: stats.sessions.total, running: 0, interrupted: stats.sessions.running ?? 0 },
        // Pending permission requests (a stopped server's wait again when it starts).
        approvals: { waiting: stats.waiting.n, sessions: stats.waiting.sessions },
        ownerTokenCreatedAt: stats.ownerSince ?? null,
        tools: await toolsStatus(cliConfig(paths).runtime ?? "sandbox", cliConfig(paths).sandbox?.bwrap),
      };
      if (o.json) print(JSON.stringify(status, null, 2));
      else {
        print(
          rt
            ? `running (pid ${rt.pid}) at ${status.url}, version ${rt.version}${rt.piVersion ? ` (pi ${rt.piVersion})` : ""}, ${healthy ? "healthy" : "NOT answering /health"}`
            : "not running",
        );
        print(`data dir ${paths.root}`);
        print(`default model: ${modelLine(ready, invokedAs(o.dataDir))}`);
        print(
          `repositories: ${ready.repos}${ready.repos === 0 ? ` (add one: \`${invokedAs(o.dataDir)} repos add <path>\`)` : ""}`,
        );
        const cut = status.sessions.interrupted ? `, ${status.sessions.interrupted} interrupted` : "";
        const w = status.approvals;
        const waiting =
          w.waiting > 0
            ? `, ${w.sessions} waiting for approval (${w.waiting} approval${w.waiting === 1 ? "" : "s"}: \`${invokedAs(o.dataDir)} approvals list\`)`
            : "";
        print(`sessions: ${status.sessions.running} running${waiting}${cut}, ${status.sessions.total} total`);
        print(`paired devices: ${stats.devices}`);
        print(`owner token: ${stats.ownerSince ? `created ${ago(stats.ownerSince)}` : "none"}`);
        const t = status.tools;
        if (t.runtime === "host")
          print("tools: runtime host — UNSANDBOXED, the agent can do whatever this user can");
        else print(t.ok ? "tools: sandboxed (bubblewrap)" : `tools: CANNOT RUN — ${t.problem}`);
      }
      // Like `systemctl status`: 0 running and healthy, 1 running but not answering, 3 not running.
      if (rt && !healthy) process.exitCode = 1;
      if (!rt) process.exitCode = 3;
    });
}

/** The status line's model: none set up yet is a first step to take, not a failure. */
function modelLine(ready: { model: string | null; modelProblem: string | null }, cmd: string): string {
  if (ready.model) return ready.model;
  if (ready.modelProblem === NO_DEFAULT_MODEL)
    return `none configured yet (\`${cmd} init\` sets one up; \`${cmd} serve --demo\` tries pi-server without a key)`;
  return `NONE USABLE — ${ready.modelProblem ?? ""}`;
}

/** "for 5 minutes (until 15:57 UTC)": a time zone the reader need not guess. */
export function expiresIn(at: number, now = Date.now()): string {
  const minutes = Math.max(1, Math.round((at - now) / 60_000));
  const d = new Date(at);
  const hhmm = `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
  const day =
    d.toISOString().slice(0, 10) === new Date(now).toISOString().slice(0, 10)
      ? ""
      : `${d.toISOString().slice(0, 10)} `;
  return `for ${minutes} minute${minutes === 1 ? "" : "s"} (until ${day}${hhmm} UTC)`;
}
