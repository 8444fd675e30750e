import { execFile } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { probeSandbox } from "../runtime/index.js";
import type { PiDiagnosis } from "../sessions/pi-diagnostics.js";
import { loadConfig, type ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import { DEMO_MODEL } from "../sessions/demo-model.js";
import { processAlive, readRuntime } from "../store/runtime.js";
import { ApnsConfigError, loadApnsKey } from "../push/apns-jwt.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  message: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

const ok = (name: string, message: string): CheckResult => ({ name, status: "ok", message });
const warn = (name: string, message: string, fix: string): CheckResult => ({
  name,
  status: "warn",
  message,
  fix,
});
const fail = (name: string, message: string, fix: string): CheckResult => ({
  name,
  status: "fail",
  message,
  fix,
});

export function checkNode(version = process.versions.node): CheckResult {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major > 20 || (major === 20 && minor >= 6)) return ok("node", `Node.js ${version}`);
  return fail("node", `Node.js ${version} is too old`, "install Node.js 20.6 or later (https://nodejs.org)");
}

export async function checkGit(env: NodeJS.ProcessEnv = process.env): Promise<CheckResult> {
  try {
    const { stdout } = await promisify(execFile)("git", ["--version"], { env, timeout: 10_000 });
    return ok("git", stdout.trim());
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    return fail(
      "git",
      missing ? "git is not on the PATH" : `git --version failed: ${(err as Error).message}`,
      "install git (Debian/Ubuntu: apt-get install git; macOS: xcode-select --install) and make sure it is on the PATH of the server",
    );
  }
}

export async function checkSandbox(config: ServerConfig | undefined): Promise<CheckResult> {
  if (config?.runtime === "host") {
    return warn(
      "sandbox",
      'runtime is "host": the agent\'s tools run unsandboxed as this user',
      "pi-server config unset runtime (to use the bubblewrap sandbox), see docs/sandbox.md",
    );
  }
  const bwrap = config?.sandbox?.bwrap ?? "bwrap";
  const r = await probeSandbox(bwrap);
  if (r.ok) return ok("sandbox", `bubblewrap (${bwrap}) starts a sandbox`);
  return fail("sandbox", "the tool sandbox cannot start: sessions cannot run", r.reason);
}

/**
 * What the server's start-up would tighten (it fixes modes when it starts): dirs 0700, and the
 * files of the data dir and identity/ (keys, tokens, .env) 0600. Reported here, not changed.
 */
export function checkPermissions(paths: DataPaths): CheckResult {
  const loose: { path: string; mode: number; want: number }[] = [];
  const look = (path: string, want: number): void => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return;
    const mode = st.mode & 0o777;
    if (mode !== want) loose.push({ path, mode, want });
  };
  const walk = (dir: string, depth: number): void => {
    look(dir, 0o700);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(dir, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isFile()) look(p, 0o600);
      else if (st?.isDirectory()) {
        if (depth > 0 && (p === paths.identity || p === paths.sessions)) walk(p, 0);
        else look(p, 0o700);
      }
    }
  };
  walk(paths.root, 1);
  if (loose.length === 0) return ok("permissions", "data dir 0700, its files 0600");
  const files = loose.filter((l) => l.want === 0o600).map((l) => l.path);
  const dirs = loose.filter((l) => l.want === 0o700).map((l) => l.path);
  const quote = (p: string): string => `'${p.replace(/'/g, "'\\''")}'`;
  const fixes = [
    ...(files.length > 0 ? [`chmod 600 ${files.map(quote).join(" ")}`] : []),
    ...(dirs.length > 0 ? [`chmod 700 ${dirs.map(quote).join(" ")}`] : []),
  ];
  return fail(
    "permissions",
    loose.map((l) => `${l.path} is ${l.mode.toString(8)}, must be ${l.want.toString(8)}`).join("; "),
    `${fixes.join(" && ")} (pi-server serve also fixes them at start; check who could read them meanwhile)`,
  );
}

export function checkConfig(paths: DataPaths): { result: CheckResult; config: ServerConfig | undefined } {
  if (!existsSync(paths.config)) return { result: ok("config", "no config.json: defaults"), config: {} };
  try {
    const config = loadConfig(paths.config);
    return { result: ok("config", `${paths.config} is valid`), config };
  } catch (err) {
    return {
      result: fail(
        "config",
        (err as Error).message,
        `correct ${paths.config} (pi-server config validate says what is wrong; docs: README § Configuration)`,
      ),
      config: undefined,
    };
  }
}

export function checkModels(paths: DataPaths, pi: PiDiagnosis | Error): CheckResult {
  if (pi instanceof Error)
    return fail("pi", `the pi SDK could not load: ${pi.message}`, "reinstall pi-server");
  if (pi.modelsError) {
    return fail(
      "models.json",
      pi.modelsError,
      `correct ${paths.models} (pi's format: docs/models.md of @mariozechner/pi-coding-agent), or remove it to use built-in providers only`,
    );
  }
  return ok(
    "models.json",
    existsSync(paths.models) ? `${paths.models} is valid` : "none (built-in providers only)",
  );
}

/** `demoServer`: this data dir's server runs with --demo, which supplies a default model of its own. */
export function checkProviders(
  pi: PiDiagnosis | Error,
  config: ServerConfig | undefined,
  demoServer = false,
): CheckResult[] {
  if (pi instanceof Error) return [];
  const out: CheckResult[] = [];
  out.push(
    pi.providersWithKeys.length > 0
      ? ok("providers", `keys for: ${pi.providersWithKeys.join(", ")}`)
      : warn(
          "providers",
          "no model provider has a key: sessions cannot run a model (serve --demo works without one)",
          "pi-server init --yes --api-key anthropic=sk-ant-… (or openai=sk-…, …), or add the key to the data dir's .env",
        ),
  );
  const model = config?.defaultModel;
  if (!model && demoServer) {
    out.push(ok("default model", `${DEMO_MODEL}: the running server's --demo model (offline, no key)`));
  } else if (!model) {
    out.push(
      warn(
        "default model",
        "no defaultModel: every session.create must name a model",
        "pi-server config set defaultModel <provider/modelId> (pi-server init lists the usable ones)",
      ),
    );
  } else {
    const state = pi.modelUsable(model);
    out.push(
      state === "usable"
        ? ok("default model", `${model} is usable`)
        : fail(
            "default model",
            state === "no-key" ? `${model} has no API key` : `${model} is not a model pi knows`,
            state === "no-key"
              ? `add the key for ${model.split("/")[0]} to the data dir's .env, or choose another with pi-server config set defaultModel`
              : "pi-server config set defaultModel <provider/modelId> with a model from pi-server init, or define it in models.json",
          ),
    );
  }
  return out;
}

/** The server.lock and server.json a running server holds, and whether they are its own. */
export function runningServer(paths: DataPaths): { pid: number; port: number; demo: boolean } | undefined {
  const rt = readRuntime(paths.runtime);
  if (!rt || !processAlive(rt.pid)) return undefined;
  return { pid: rt.pid, port: rt.port, demo: rt.demo === true };
}

export function checkLock(paths: DataPaths): CheckResult {
  const file = join(paths.root, "server.lock");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return ok("lock", "data dir not in use (no server.lock)");
  }
  const pid = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) {
    return warn(
      "lock",
      `server.lock names pid ${text.trim()}, which is not running (a crash left it)`,
      "nothing to do: the next pi-server serve takes it over",
    );
  }
  const rt = readRuntime(paths.runtime);
  if (rt?.pid === pid) return ok("lock", `held by the running server (pid ${pid})`);
  return warn(
    "lock",
    `held by pid ${pid}, which has not written server.json (starting, or stuck)`,
    `wait a few seconds; if it stays so, look at process ${pid} (ps -p ${pid} -o args)`,
  );
}

export async function checkPort(paths: DataPaths, config: ServerConfig | undefined): Promise<CheckResult> {
  const port = config?.port ?? 3141;
  const host = config?.host ?? "0.0.0.0";
  const running = runningServer(paths);
  if (running) {
    // Started with --port it may listen elsewhere than config.json says; what it holds is what counts.
    const other =
      port !== 0 && running.port !== port ? ` (started with --port; config.json says ${port})` : "";
    return ok(
      "port",
      `${host}:${running.port} is held by this data dir's server (pid ${running.pid})${other}`,
    );
  }
  if (port === 0) return ok("port", "port 0: the system picks a free one at start");
  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const probe = createServer();
    probe.once("error", (e: NodeJS.ErrnoException) => resolve(e));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  if (!err) return ok("port", `${host}:${port} is free`);
  if (err.code === "EADDRINUSE") {
    return fail(
      "port",
      `${host}:${port} is in use by another program`,
      `stop that program (ss -ltnp 'sport = :${port}' names it), or choose another port: pi-server config set port <n>`,
    );
  }
  return fail(
    "port",
    `cannot listen on ${host}:${port}: ${err.code ?? err.message}`,
    err.code === "EACCES"
      ? "ports below 1024 need privileges: pi-server config set port 3141"
      : "pi-server config set host <an address of this machine>",
  );
}

const DAY = 86_400_000;

export function checkTls(paths: DataPaths, config: ServerConfig | undefined, now = Date.now()): CheckResult {
  const mode = config?.tls?.mode ?? "off";
  if (mode === "off") {
    const host = config?.host ?? "0.0.0.0";
    const loopback = host === "::1" || host === "localhost" || host.startsWith("127.");
    return loopback
      ? ok("tls", "off (loopback only)")
      : ok("tls", `off: plain HTTP on ${host} (fine on a tailnet; tls.mode self-signed otherwise)`);
  }
  const certFile = mode === "manual" ? config?.tls?.certFile : join(paths.identity, "tls.crt");
  const keyFile = mode === "manual" ? config?.tls?.keyFile : join(paths.identity, "tls.key");
  if (!certFile || !keyFile) {
    return fail(
      "tls",
      'tls.mode "manual" without certFile and keyFile',
      "pi-server config set tls.certFile <pem> and tls.keyFile <pem>",
    );
  }
  if (mode === "self-signed" && !existsSync(certFile)) {
    return ok("tls", "self-signed: the certificate is made at the next start");
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (err) {
    return fail(
      "tls",
      `cannot read the certificate ${certFile}: ${(err as Error).message}`,
      "point tls.certFile at a PEM certificate",
    );
  }
  try {
    const key = readFileSync(keyFile, "utf8");
    if (!cert.checkPrivateKey(createPrivateKey(key))) {
      return fail(
        "tls",
        `${keyFile} is not the key of ${certFile}`,
        "use the key file that belongs to the certificate",
      );
    }
  } catch (err) {
    return fail(
      "tls",
      `cannot read the key ${keyFile}: ${(err as Error).message}`,
      "point tls.keyFile at the PEM private key",
    );
  }
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  const renew =
    mode === "manual"
      ? `renew the certificate and restart pi-server`
      : `delete ${certFile} and ${keyFile} and restart pi-server (a new certificate: every paired device must pair again)`;
  if (now < notBefore)
    return fail("tls", `the certificate is valid only from ${cert.validFrom}`, "check the system clock");
  if (now >= notAfter) return fail("tls", `the certificate expired on ${cert.validTo}`, renew);
  const days = Math.floor((notAfter - now) / DAY);
  if (days < 30) return warn("tls", `the certificate expires in ${days} days (${cert.validTo})`, renew);
  return ok("tls", `${mode}: certificate valid until ${cert.validTo} (${days} days)`);
}

const GIB = 1024 ** 3;

export function checkDisk(paths: DataPaths): CheckResult {
  const st = statfsSync(paths.root);
  const free = st.bavail * st.bsize;
  const text = `${(free / GIB).toFixed(1)} GiB free on the data dir's filesystem`;
  if (free < 200 * 1024 * 1024) {
    return fail(
      "disk",
      text,
      "free space there: sessions, worktrees and state.db stop writing when it is full",
    );
  }
  if (free < 2 * GIB) return warn("disk", text, "free space soon: every session has a worktree of its repo");
  return ok("disk", text);
}

/** push.apns: the .p8 key must be readable and an EC P-256 key, or the server does not start. */
export function checkApns(paths: DataPaths, config: ServerConfig | undefined): CheckResult {
  const apns = config?.push?.apns;
  if (!apns) return ok("apns", "not configured (no iOS push; Web Push works without it)");
  try {
    loadApnsKey(apns.keyPath, paths.root);
  } catch (err) {
    if (!(err instanceof ApnsConfigError)) throw err;
    return fail(
      "apns",
      err.message,
      "point push.apns.keyPath at the AuthKey_<KeyID>.p8 file from developer.apple.com (Keys), or pi-server config unset push.apns",
    );
  }
  const env = apns.environment ?? "production";
  return ok("apns", `${env}: key ${apns.keyId} of team ${apns.teamId}, topic ${apns.bundleId}`);
}
