import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { pino, type Logger } from "pino";
import { prettyDestination } from "./log-pretty.js";
import { PROTOCOL_VERSION } from "./protocol/envelope.js";
import { CloseCode } from "./protocol/errors.js";
import type { ServerInfo } from "./protocol/types.js";
import { SessionService } from "./sessions/service.js";
import { PermissionBroker } from "./sessions/permissions.js";
import type { Agent as HttpsAgent } from "node:https";
import { DEFAULT_COALESCE_MS, PushService } from "./push/push-service.js";
import { PushPreferencesStore } from "./store/push-preferences.js";
import { ActionTokens } from "./push/action-token.js";
import { PushActionTokensStore } from "./store/push-action-tokens.js";
import { loadVapidKeys } from "./push/vapid.js";
import { PushSubscriptionsStore } from "./store/push-subscriptions.js";
import { apnsChannelFromConfig, type ApnsConnectOptions } from "./push/apns-setup.js";
import { ApnsConfigError } from "./push/apns-jwt.js";
import type { ApnsChannel } from "./push/apns.js";
import { ApnsRegistrationsStore } from "./store/apns-registrations.js";
import { NativeCalls } from "./sessions/native-calls.js";
import { AuditLog } from "./store/audit.js";
import { PermissionRequestsStore } from "./store/permission-requests.js";
import { RulesStore } from "./store/rules.js";
import { loadPi } from "./sessions/pi.js";
import { DEMO_MODEL, registerDemoModel } from "./sessions/demo-model.js";
import { DEMO_REPO_ID, ensureDemoRepo } from "./repos/demo-repo.js";
import { probeSandbox } from "./runtime/index.js";
import { globalGitIdentity } from "./repos/git.js";
import {
  idleUnloadMs,
  loadConfig,
  resolveLimits,
  securityProfile,
  type Limits,
  type ServerConfig,
} from "./store/config.js";
import { SessionSlots, startIdleUnload } from "./sessions/session-slots.js";
import { WorkspacesStore } from "./store/workspaces.js";
import { HOST_RUNTIME_WARNING, WorkspaceService } from "./workspaces/service.js";
import { SearchStore } from "./store/search.js";
import { UsageStore } from "./store/usage.js";
import { Budgets } from "./sessions/budgets.js";
import { SessionHooks } from "./sessions/session-hooks.js";
import { loadIdentity, type Identity } from "./pairing/identity.js";
import { defaultHosts } from "./pairing/hosts.js";
import { PairingService } from "./pairing/pairing.js";
import { PairingTokens } from "./store/pairing-tokens.js";
import { removeRuntime, writeRuntime } from "./store/runtime.js";
import { loadTls } from "./transport/tls.js";
import { openDb, type Db } from "./store/db.js";
import { dataPaths, type DataPaths, prepareDataDir } from "./store/paths.js";
import { type DataDirLock, DataDirLockedError, lockDataDir } from "./store/lock.js";
import { SessionsIndex } from "./store/sessions-index.js";
import { CheckpointStore } from "./store/checkpoints.js";
import { SessionHistory } from "./sessions/history.js";
import { generateToken, TokenStore } from "./store/tokens.js";
import { createAuthenticator } from "./transport/auth.js";
import { buildApp } from "./transport/app.js";
import { raiseFdLimit } from "./transport/fd-limit.js";
import type { TransportStats } from "./transport/send-queue.js";
import { createHandlers } from "./transport/handlers.js";
import { ServerMetrics } from "./metrics/metrics.js";

export const SERVER_VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

export const CAPABILITIES = [
  "sessions",
  "worktrees",
  "replay",
  "images",
  "thinking",
  "models",
  "chat",
  "nativeTools",
  "permissions",
  "diff",
  "workspaces",
  "titles",
  "search",
  "usage",
  "budgets",
];

export interface StartOptions {
  dataDir: string;
  /** Defaults: config.json, then 3141 / 0.0.0.0. Tests pass 0 and 127.0.0.1. */
  port?: number;
  host?: string;
  /** Accepted as an owner token in addition to the stored ones (PI_SERVER_TOKEN). */
  envToken?: string;
  logLevel?: string;
  /** Readable log lines (a terminal) instead of JSON. */
  prettyLogs?: boolean;
  limits?: Partial<Limits>;
  heartbeatMs?: number;
  pairRateLimit?: number;
  /**
   * `serve --demo`: the offline scripted model demo/pi-demo (the default model unless config.json
   * names one) and a demo repository. Nothing is written to config.json.
   */
  demo?: boolean;
  /** The web app's build served at /app/ (default: dist-web/ in the package root). */
  webDir?: string;
  /** The https agent Web Push deliveries go through (a test's own CA); default: Node's global one. */
  pushAgent?: HttpsAgent;
  /** Where APNs deliveries go and which CA they trust (a test's own server); default Apple's. */
  apns?: ApnsConnectOptions;
}

/** Where the web app's Vite build writes. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../dist-web", import.meta.url));

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  dataDir: string;
  /** Set only on the start that created the owner token: it is shown once and stored hashed. */
  generatedToken: string | undefined;
  /** SHA-256 of the TLS certificate when serving https. */
  tlsFingerprint: string | undefined;
  identity: Identity;
  log: Logger;
  /** Send-queue counters over every connection (slow-consumer closes, peak queued bytes, …). */
  transportStats: TransportStats;
  /** The server's state.db handle (diagnostics; PRAGMA max_page_count on it reproduces a full disk). */
  db: Db;
  /** Resolves once the sessions there were at start-up are in the search index (how many were looked at). */
  searchIndexed: Promise<number>;
  /**
   * Stops accepting, sends server_shutdown to every attached client, aborts running turns (they
   * end `interrupted`), lets queued frames leave (at most a few seconds), then closes everything.
   */
  close(): Promise<void>;
}

export class StartupError extends Error {
  override name = "StartupError";
}

function isLoopback(host: string): boolean {
  return host === "::1" || host === "localhost" || host.startsWith("127.");
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** `pretty`: a terminal reads lines, not JSON (see log-pretty.ts). */
export function createLogger(level = "info", pretty = false): Logger {
  if (!LOG_LEVELS.includes(level))
    throw new StartupError(`log level "${level}" does not exist: use one of ${LOG_LEVELS.join(", ")}`);
  const destination = pretty
    ? prettyDestination(process.stderr, {
        verbose: level === "debug" || level === "trace",
        color: !process.env.NO_COLOR,
      })
    : pino.destination(2);
  return pino(
    {
      level,
      redact: {
        paths: [
          "req.headers.authorization",
          "token",
          "*.token",
          "params.token",
          "pairingToken",
          "*.pairingToken",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}

const DEMO_RULE_NOTE = "set by pi-server --demo so that the approval flow shows";
/** The same rule as earlier versions noted it: a data dir that has it needs no second one. */
const OLD_DEMO_RULE_NOTE = "pi-server --demo: ask before writes in the demo repo, so the approval flow shows";

/**
 * The default profile lets writes inside the worktree through; in the demo repository (and only
 * there) a rule asks, so the demo's write shows a permission request. Added once, removable.
 */
function askBeforeDemoWrites(permissions: PermissionBroker): void {
  if (permissions.listRules({}).some((r) => r.note === DEMO_RULE_NOTE || r.note === OLD_DEMO_RULE_NOTE))
    return;
  permissions.addRule(
    { tool: "write", decision: "ask", scope: "workspace", workspace: DEMO_REPO_ID, note: DEMO_RULE_NOTE },
    "pi-server --demo",
  );
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  if (opts.envToken !== undefined && opts.envToken.length < 16) {
    throw new StartupError("PI_SERVER_TOKEN must be at least 16 characters; use a long random value");
  }
  const log = createLogger(opts.logLevel, opts.prettyLogs);
  raiseFdLimit(log);
  const paths = dataPaths(opts.dataDir);
  for (const r of prepareDataDir(paths)) {
    log.warn({ path: r.path, from: r.from.toString(8), to: r.to.toString(8) }, "fixed permissions");
  }
  let lock: DataDirLock;
  try {
    lock = lockDataDir(paths.root);
  } catch (err) {
    if (err instanceof DataDirLockedError) throw new StartupError(err.message);
    throw err;
  }
  try {
    return await startLocked(opts, log, paths, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function startLocked(
  opts: StartOptions,
  log: Logger,
  paths: DataPaths,
  lock: DataDirLock,
): Promise<RunningServer> {
  const config = loadConfig(paths.config);
  const limits = resolveLimits(config, opts.limits);
  const host = opts.host ?? config.host ?? "0.0.0.0";
  const identity = loadIdentity(paths.identity);
  const tls = await loadTls(config, paths.identity, defaultHosts());
  if (securityProfile(config) === "strict" && !tls && !isLoopback(host)) {
    throw new StartupError(
      `security.profile "strict" refuses to listen on ${host} without TLS: set tls.mode to "self-signed" or "manual", or bind to 127.0.0.1`,
    );
  }

  const db = openDb(paths.db);
  const tokens = new TokenStore(db);

  const runtimeKind = config.runtime ?? "sandbox";
  // A working sandbox stays working; a broken one is probed again, so installing bwrap is enough.
  let sandboxOk: string | undefined;
  const sandboxCheck = async (): Promise<{ ok: true } | { ok: false; reason: string }> => {
    const bwrap = loadConfig(paths.config).sandbox?.bwrap ?? "bwrap";
    if (sandboxOk === bwrap) return { ok: true };
    const r = await probeSandbox(bwrap);
    sandboxOk = r.ok ? bwrap : undefined;
    return r;
  };
  // Each runs a child process (bwrap, git config): started before the pi SDK's import, they run
  // beside it on another core instead of after it (npm run bench, start-up).
  const firstSandboxCheck = runtimeKind === "host" ? undefined : settleLater(sandboxCheck());
  const gitIdentity = settleLater(globalGitIdentity());
  const pi = await loadPi(paths);
  let demoRepoOwned = false;
  if (opts.demo) {
    await registerDemoModel(pi);
    demoRepoOwned = await ensureDemoRepo(paths, log);
    log.warn(`demo mode: ${DEMO_MODEL} is an offline script, not an LLM`);
  }
  const index = new SessionsIndex(db);
  // Approve/Deny from a notification: the same answer path as permission.respond (set below).
  let permissions: PermissionBroker | undefined = undefined;
  const pendingCall = (id: string): { tool: string; input: unknown } | undefined => {
    try {
      const p = permissions?.get(id);
      return p && { tool: p.request.tool, input: p.input };
    } catch {
      return undefined;
    }
  };
  const pushActions = new ActionTokens({
    store: new PushActionTokensStore(db),
    pendingCall,
    deviceAlive: (id) => id === "env" || tokens.exists(id),
  });
  const tokenAlive = (id: string): boolean => id === "env" || tokens.exists(id);
  // Set once the connections exist: a visible client attached to the session holds its pushes back.
  let watched: (sessionId: string) => boolean = () => false;
  let apns: ApnsChannel | undefined;
  try {
    apns = apnsChannelFromConfig({
      config,
      dataDir: paths.root,
      store: new ApnsRegistrationsStore(db),
      log,
      tokenAlive,
      ...(opts.apns && { connect: opts.apns }),
    });
  } catch (err) {
    db.close();
    if (err instanceof ApnsConfigError) throw new StartupError(err.message);
    throw err;
  }
  const push = new PushService({
    store: new PushSubscriptionsStore(db),
    vapid: loadVapidKeys(paths.identity),
    subject: "mailto:pi-server@localhost",
    log,
    sessionName: (id) => index.get(id)?.name,
    tokenAlive,
    actions: pushActions,
    redact: () => loadConfig(paths.config).push?.redact === true,
    ...(opts.pushAgent && { agent: opts.pushAgent }),
    ...(apns && { channels: [apns] }),
    preferences: new PushPreferencesStore(db),
    coalesceMs: () => loadConfig(paths.config).push?.coalesceMs ?? DEFAULT_COALESCE_MS,
    watched: (sessionId) => watched(sessionId),
  });
  const metrics = new ServerMetrics({ version: SERVER_VERSION, piVersion: pi.version });
  const checkpoints = new CheckpointStore(db);
  permissions = new PermissionBroker({
    rules: new RulesStore(db),
    audit: new AuditLog(db),
    requests: new PermissionRequestsStore(db),
    sessions: index,
    paths,
    config: () => loadConfig(paths.config),
    log,
    metrics,
    onAsk: (request) => push.permissionRequested(request, pendingCall(request.id)?.input ?? request.input),
  });
  if (demoRepoOwned) askBeforeDemoWrites(permissions);
  if (runtimeKind === "host") {
    log.warn(
      'runtime is "host": the agent\'s tools run unsandboxed as this user and can read and change everything it can (see docs/sandbox.md)',
    );
  } else if (firstSandboxCheck) {
    const r = await firstSandboxCheck;
    if (!r.ok)
      log.error({ reason: r.reason }, "the tool sandbox cannot run here; sessions cannot start until it can");
  }
  const nativeCalls = new NativeCalls(limits.nativeToolTimeoutMs);
  const slots = new SessionSlots(() => ({
    perWorkspace: limits.maxSessionsPerWorkspace,
    global: limits.maxSessionsGlobal,
  }));
  const sessionsRef: { s?: SessionService } = {};
  const workspaces = new WorkspaceService({
    store: new WorkspacesStore(db),
    reposFile: paths.repos,
    dataDir: paths.root,
    config: () => loadConfig(paths.config),
    log,
    loadedIn: (id) => slots.loadedIn(id),
    sessionsUsing: (w) => index.inWorkspace(w.id, w.repoId, w.isDefault),
    checkModel: (key) => void sessionsRef.s?.resolveModel(key),
  });
  for (const w of new WorkspacesStore(db).list()) {
    if (w.runtime === "host") log.warn({ workspaceId: w.id }, HOST_RUNTIME_WARNING);
  }
  const readConfig = (): ServerConfig => loadConfig(paths.config);
  const usage = new UsageStore(db);
  const search = new SearchStore(db);
  const hooks = new SessionHooks({
    pi,
    index,
    usage,
    search,
    budgets: new Budgets({ usage, config: readConfig, permissions, log }),
    config: readConfig,
    log,
    notices: push,
  });
  const searchIndexed = hooks.startBackfill().catch((err: unknown) => {
    log.warn({ err }, "search backfill failed");
    return 0;
  });
  const sessions = new SessionService({
    paths,
    pi,
    index,
    config: () => {
      const c = loadConfig(paths.config);
      // Demo mode fills in a default only where the user has none; config.json stays as it is.
      return opts.demo && !c.defaultModel ? { ...c, defaultModel: DEMO_MODEL } : c;
    },
    limits,
    log,
    permissions,
    sandboxCheck,
    nativeCalls,
    gitIdentity: await gitIdentity,
    metrics,
    workspaces,
    slots,
    hooks,
    checkpoints,
  });
  sessionsRef.s = sessions;
  const idleUnload = startIdleUnload(
    () => idleUnloadMs(loadConfig(paths.config)),
    (ms) => sessions.unloadIdle(ms),
  );
  // Not awaited: a session that takes long to load must not hold up the start; attach waits for it.
  void sessions.resumeWaiting();
  const startedAt = Date.now();
  const info = (): ServerInfo => ({
    name: "pi-server",
    version: SERVER_VERSION,
    piVersion: pi.version,
    protocolVersion: PROTOCOL_VERSION,
    capabilities: CAPABILITIES,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  });
  let revoke: (ids: string[]) => void = () => undefined;
  const app = await buildApp({
    handlers: createHandlers({
      sessions,
      history: new SessionHistory({
        sessions,
        checkpoints,
        sdk: pi.sdk,
        paths,
        config: () => loadConfig(paths.config),
      }),
      reposFile: paths.repos,
      configFile: paths.config,
      tokens,
      onRevoked: (ids) => revoke(ids),
      push,
      permissions,
      index,
      workspaces,
      nativeCalls,
      fileLimit: limits.toolFileBytes,
      insights: { search, usage, config: readConfig },
      ...(opts.demo && { fallbackDefaultModel: DEMO_MODEL }),
    }),
    openSession: (id) => sessions.open(id),
    nativeCalls,
    resumeWindowSec: limits.resumeWindowSec,
    webDir: opts.webDir ?? DEFAULT_WEB_DIR,
    pushAction: ({ token, requestId, action }) => {
      const { tokenId } = pushActions.redeem(token, requestId);
      const by = tokenId === "env" ? "notification" : `notification (device ${tokenId})`;
      return permissions.respond(requestId, action === "allow" ? "allow_once" : "deny_once", by);
    },
    metrics: {
      render: () => metrics.render(),
      contentType: metrics.contentType,
      scrapeTokenHash: () => loadConfig(paths.config).metrics?.tokenSha256,
    },
    auth: createAuthenticator(tokens, opts.envToken),
    info,
    identity,
    pairing: new PairingService(identity, new PairingTokens(db), tokens),
    guards: {
      allowedHosts: config.security?.allowedHosts ?? [],
      allowedOrigins: config.security?.allowedOrigins ?? [],
    },
    ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
    pairRateLimit: opts.pairRateLimit,
    log,
    connection: {
      maxFrameBytes: limits.maxFrameBytes,
      helloTimeoutMs: limits.helloTimeoutMs,
      heartbeatMs: opts.heartbeatMs ?? 30_000,
      sendQueueBytes: limits.sendQueueBytes,
      maxJsonDepth: limits.maxJsonDepth,
      maxRequestsPerSecond: limits.maxRequestsPerSecond,
      maxSessionsPerConnection: limits.maxSessionsPerConnection,
      maxPreHelloBytes: limits.maxPreHelloBytes,
    },
    admission: {
      maxUnauthenticated: limits.maxUnauthenticatedConnections,
      maxUnauthenticatedPerAddress: limits.maxUnauthenticatedPerAddress,
      upgradeTimeoutMs: limits.upgradeTimeoutMs,
    },
  });
  const { fastify, connections } = app;
  metrics.attach({
    sessions: () => sessions.counts(),
    permissionsPending: () => permissions.pendingCounts(),
    transport: () => {
      const t = app.traffic();
      return {
        ...t,
        connections: connections.size,
        eventsSent: app.stats.eventsSent,
        peakQueuedBytes: app.stats.peakQueuedBytes,
        slowConsumerCloses: app.stats.slowConsumerCloses,
        mergedDeltas: app.stats.mergedDeltas,
      };
    },
  });
  watched = (sessionId) => [...connections].some((c) => c.watches(sessionId));
  revoke = (ids) => {
    push.forgetDevices(ids);
    app.revoke(ids);
  };
  try {
    await fastify.listen({ port: opts.port ?? config.port ?? 3141, host });
  } catch (err) {
    idleUnload.stop();
    await sessions.close();
    await hooks.close();
    await fastify.close();
    db.close();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new StartupError(
        `port ${opts.port ?? config.port ?? 3141} on ${host} is already in use by another program (another pi-server?); choose another with --port or PI_SERVER_PORT`,
      );
    }
    throw err;
  }
  // Made only once the server is listening, so a failed first start does not swallow the token.
  let generatedToken: string | undefined;
  if (!tokens.hasOwner() && !opts.envToken) {
    generatedToken = generateToken();
    tokens.add("owner", "owner", generatedToken);
  }
  const address = fastify.server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const scheme = tls ? "https" : "http";
  writeRuntime(paths.runtime, {
    pid: process.pid,
    port: address.port,
    host: address.address,
    scheme,
    ...(tls ? { tlsFingerprint: tls.fingerprint } : {}),
    version: SERVER_VERSION,
    piVersion: pi.version,
    startedAt,
    ...(opts.demo === true && { demo: true }),
  });

  // `pi-server token revoke` runs in another process: notice its commits and drop revoked sockets.
  let dataVersion = db.pragma("data_version", { simple: true }) as number;
  const revocationWatch = setInterval(() => {
    const now = db.pragma("data_version", { simple: true }) as number;
    if (now === dataVersion) return;
    dataVersion = now;
    const gone = [...connections]
      .map((c) => c.principalId)
      .filter((id): id is string => id !== undefined && id !== "env" && !tokens.exists(id));
    if (gone.length > 0) app.revoke(gone);
  }, 500);
  revocationWatch.unref();

  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${urlHost}:${address.port}`,
    port: address.port,
    host: address.address,
    dataDir: paths.root,
    generatedToken,
    tlsFingerprint: tls?.fingerprint,
    identity,
    log,
    transportStats: app.stats,
    db,
    searchIndexed,
    close() {
      closing ??= (async () => {
        clearInterval(revocationWatch);
        idleUnload.stop();
        app.stopAccepting();
        // server_shutdown, then the aborted turns' interrupted status, reach clients before the close.
        await sessions.close();
        await hooks.close();
        // Deliveries under way get a moment; a push service that is down must not hold up the stop.
        await Promise.race([push.settled(), new Promise((r) => setTimeout(r, 2000).unref())]);
        push.close();
        await Promise.all([...connections].map((c) => c.flush(2000)));
        for (const c of connections) c.close(CloseCode.goingAway, "server shutting down");
        await fastify.close();
        db.close();
        removeRuntime(paths.runtime, process.pid);
        lock.release();
      })();
      return closing;
    },
  };
}

/** The promise itself, marked handled: it is awaited later, and start-up may fail before that. */
function settleLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
