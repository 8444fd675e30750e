import { readFileSync } from "node:fs";
import { Type, type Static } from "typebox";
import { Compile } from "typebox/compile";
import { describeErrors } from "../protocol/validate.js";
import { writeJsonAtomic } from "./atomic.js";

export const ServerConfig = Type.Object(
  {
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    host: Type.Optional(Type.String({ minLength: 1 })),
    /** "provider/modelId" used by session.create when the client names none. */
    defaultModel: Type.Optional(Type.String({ pattern: "^[^/]+/.+$" })),
    defaultThinkingLevel: Type.Optional(
      Type.Union(["off", "minimal", "low", "medium", "high", "xhigh"].map((l) => Type.Literal(l))),
    ),
    security: Type.Optional(
      Type.Object(
        {
          profile: Type.Optional(Type.Union([Type.Literal("tailscale-permissive"), Type.Literal("strict")])),
          /** Extra host names the server may be reached by (beyond IPs, localhost, this machine's name, *.ts.net). */
          allowedHosts: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
          /** Extra browser origins allowed to call the server (e.g. "https://app.example.com"). */
          allowedOrigins: Type.Optional(Type.Array(Type.String({ pattern: "^https?://" }))),
        },
        { additionalProperties: false },
      ),
    ),
    tls: Type.Optional(
      Type.Object(
        {
          mode: Type.Optional(
            Type.Union([Type.Literal("off"), Type.Literal("self-signed"), Type.Literal("manual")]),
          ),
          certFile: Type.Optional(Type.String({ minLength: 1 })),
          keyFile: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    metrics: Type.Optional(
      Type.Object(
        {
          /** SHA-256 (hex) of a token that may read GET /metrics and nothing else (`pi-server token metrics`). */
          tokenSha256: Type.Optional(Type.String({ pattern: "^[0-9a-f]{64}$" })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Where the agent's tools run: "sandbox" (bubblewrap, the default) or "host" (unconfined). */
    runtime: Type.Optional(Type.Union([Type.Literal("sandbox"), Type.Literal("host")])),
    sandbox: Type.Optional(
      Type.Object(
        {
          /** Whether tools reach the network (off: only the sandbox's own loopback). */
          network: Type.Optional(Type.Boolean()),
          /** Extra absolute paths tools may read (toolchains under $HOME such as ~/.cargo, ~/.nvm). */
          readOnlyPaths: Type.Optional(Type.Array(Type.String({ pattern: "^/" }))),
          /** Extra absolute paths tools may write (a shared cache, say). */
          readWritePaths: Type.Optional(Type.Array(Type.String({ pattern: "^/" }))),
          /** The bubblewrap binary, when it is not `bwrap` on the PATH. */
          bwrap: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    sessions: Type.Optional(
      Type.Object(
        {
          /** A session with no turn, approval or client for this long leaves memory (0: never). */
          idleUnloadMinutes: Type.Optional(Type.Number({ minimum: 0, maximum: 7 * 24 * 60 })),
        },
        { additionalProperties: false },
      ),
    ),
    repos: Type.Optional(
      Type.Object(
        {
          /**
           * Hosts (host or host:port) GITHUB_TOKEN is offered to when a clone url asks for a
           * password; default github.com. Plain http gets it only on loopback.
           */
          tokenHosts: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 300 }))),
        },
        { additionalProperties: false },
      ),
    ),
    permissions: Type.Optional(
      Type.Object(
        {
          /** How long a permission request waits for an answer before the tool call is denied. */
          timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 24 * 60 * 60 * 1000 })),
          /**
           * When no attached client answers permission requests (e.g. the Pi Mobile app): "deny" the
           * call at once with the reason in its tool result, or "wait" for timeoutMs.
           */
          unanswerable: Type.Optional(Type.Union([Type.Literal("deny"), Type.Literal("wait")])),
        },
        { additionalProperties: false },
      ),
    ),
    /**
     * Spending caps in USD, from the costs pi computes with models.json / its model list. A turn
     * that would go past one pauses and asks (a permission request of kind "budget").
     */
    budgets: Type.Optional(
      Type.Object(
        {
          /** What one session may spend; each "continue" answer allows one more step of it. */
          perSessionUsd: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })),
          /** What all sessions together may spend per local calendar day; "continue" adds one step. */
          dailyUsd: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    push: Type.Optional(
      Type.Object(
        {
          /** Notifications carry opaque ids only: no title, tool or command reaches a push service. */
          redact: Type.Optional(Type.Boolean()),
          /** Per device, notifications this close together (ms) are sent as one; 0 sends each at once. */
          coalesceMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
          /** Apple Push Notification service for iOS apps: token auth with a .p8 key (docs/push.md). */
          apns: Type.Optional(
            Type.Object(
              {
                /** The .p8 signing key (PKCS#8 EC P-256 PEM); relative paths are read from the data dir. */
                keyPath: Type.String({ minLength: 1 }),
                /** The key's 10-character Key ID from the Apple Developer account. */
                keyId: Type.String({ pattern: "^[A-Z0-9]{10}$" }),
                /** The 10-character Team ID. */
                teamId: Type.String({ pattern: "^[A-Z0-9]{10}$" }),
                /** The iOS app's bundle id: the apns-topic. */
                bundleId: Type.String({ pattern: "^[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$", maxLength: 155 }),
                /** "development" (api.sandbox.push.apple.com, Xcode builds) or "production" (the default). */
                environment: Type.Optional(
                  Type.Union([Type.Literal("development"), Type.Literal("production")]),
                ),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** Session titles generated from the first prompt with the session's own model. */
    titles: Type.Optional(
      Type.Object(
        {
          /** Default true; false names sessions by the first words of their first prompt, without an LLM call. */
          generate: Type.Optional(Type.Boolean()),
          timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    checkpoints: Type.Optional(
      Type.Object(
        {
          /** Commit the worktree at the end of every turn that changed it (default true). */
          enabled: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          maxFrameBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 })),
          maxSessions: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          /** Sessions of one workspace in memory at once. */
          maxSessionsPerWorkspace: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          /** Sessions in memory at once, over every workspace. */
          maxSessionsGlobal: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          replayBufferEvents: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
          replayBufferBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1024 * 1024 * 1024 })),
          replayTotalBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 * 1024 * 1024 * 1024 })),
          helloTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
          sendQueueBytes: Type.Optional(Type.Integer({ minimum: 16 * 1024, maximum: 1024 * 1024 * 1024 })),
          maxJsonDepth: Type.Optional(Type.Integer({ minimum: 4, maximum: 1000 })),
          maxRequestsPerSecond: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          maxSessionsPerConnection: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          toolFileBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 })),
          toolOutputBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 4 * 1024 * 1024 * 1024 })),
          maxUnauthenticatedConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          maxUnauthenticatedPerAddress: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          maxPreHelloBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024 })),
          upgradeTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
          nativeToolTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60 * 60 * 1000 })),
          resumeWindowSec: Type.Optional(Type.Integer({ minimum: 0, maximum: 24 * 60 * 60 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ServerConfig = Static<typeof ServerConfig>;

export interface Limits {
  maxFrameBytes: number;
  maxSessions: number;
  maxSessionsPerWorkspace: number;
  maxSessionsGlobal: number;
  replayBufferEvents: number;
  /** Characters of serialised events kept per session for replay. */
  replayBufferBytes: number;
  /** The same over every loaded session together. */
  replayTotalBytes: number;
  helloTimeoutMs: number;
  /** Bytes a connection may have waiting to be sent before it is closed as a slow consumer. */
  sendQueueBytes: number;
  maxJsonDepth: number;
  /** Sustained request rate per connection; bursts up to twice this are allowed. */
  maxRequestsPerSecond: number;
  maxSessionsPerConnection: number;
  /** Largest file the read and edit tools load. */
  toolFileBytes: number;
  /** Output of one tool command past which it is killed. */
  toolOutputBytes: number;
  /** Sockets open before a successful hello, over every address. */
  maxUnauthenticatedConnections: number;
  /** The same, per remote address. */
  maxUnauthenticatedPerAddress: number;
  /** Bytes a WebSocket may send before its hello succeeds; past it the socket is terminated. */
  maxPreHelloBytes: number;
  /** Time a new socket has to send a complete HTTP request head (WebSocket upgrades included). */
  upgradeTimeoutMs: number;
  /** How long a native tool call waits for the client's answer. */
  nativeToolTimeoutMs: number;
  /** How long a dropped connection's attachments are kept for hello.resume. */
  resumeWindowSec: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxFrameBytes: 8 * 1024 * 1024,
  maxSessions: 200,
  maxSessionsPerWorkspace: 3,
  maxSessionsGlobal: 5,
  replayBufferEvents: 5000,
  replayBufferBytes: 4 * 1024 * 1024,
  replayTotalBytes: 32 * 1024 * 1024,
  helloTimeoutMs: 10_000,
  sendQueueBytes: 8 * 1024 * 1024,
  maxJsonDepth: 32,
  maxRequestsPerSecond: 100,
  maxSessionsPerConnection: 100,
  toolFileBytes: 16 * 1024 * 1024,
  toolOutputBytes: 64 * 1024 * 1024,
  maxUnauthenticatedConnections: 256,
  maxUnauthenticatedPerAddress: 16,
  maxPreHelloBytes: 64 * 1024,
  upgradeTimeoutMs: 10_000,
  nativeToolTimeoutMs: 120_000,
  resumeWindowSec: 600,
};

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "ConfigError";
  }
}

const configValidator = Compile(ServerConfig);

/** A pattern means nothing to a user; say what the value should look like. */
const PATTERN_HINTS: Record<string, string> = {
  "/defaultModel": 'must be "provider/modelId", e.g. anthropic/claude-sonnet-4-5',
  "/push/apns/keyId": "must be the key's 10-character Key ID (A-Z, 0-9) from the Apple Developer account",
  "/push/apns/teamId": "must be the 10-character Team ID (A-Z, 0-9) from the Apple Developer account",
  "/push/apns/bundleId": "must be the app's bundle id, e.g. com.example.pi",
};

/** Names the offending key, e.g. `/limits/maxSessions: must be integer`. */
export function configIssues(value: unknown): string[] {
  const shape = describeErrors(configValidator.Errors(value)).map(
    (i) =>
      `${i.path === "/" ? "(top level)" : i.path}: ${
        i.message.startsWith("must match pattern") && PATTERN_HINTS[i.path] !== undefined
          ? PATTERN_HINTS[i.path]
          : i.message.replace(/^unknown property/, "unknown key")
      }`,
  );
  return shape.length > 0 ? shape : combinationIssues(value as ServerConfig);
}

function isLoopbackHost(host: string): boolean {
  return host === "::1" || host === "localhost" || host.startsWith("127.");
}

/** Settings that are each valid but cannot work together. */
function combinationIssues(config: ServerConfig): string[] {
  const issues: string[] = [];
  const host = config.host ?? "0.0.0.0";
  if (
    securityProfile(config) === "strict" &&
    (config.tls?.mode ?? "off") === "off" &&
    !isLoopbackHost(host)
  ) {
    issues.push(
      `/security/profile: "strict" needs tls.mode "self-signed" or "manual" to listen on ${host}, or host 127.0.0.1 (this machine only; e.g. behind Tailscale serve)`,
    );
  }
  for (const key of ["readOnlyPaths", "readWritePaths"] as const) {
    for (const p of config.sandbox?.[key] ?? []) {
      if (p === "/" || p.split("/").includes("..")) issues.push(`/sandbox/${key}: ${p} is not allowed`);
    }
  }
  if (config.tls?.mode === "manual" && (!config.tls.certFile || !config.tls.keyFile)) {
    issues.push(`/tls: mode "manual" needs certFile and keyFile`);
  }
  return issues;
}

export function parseConfig(text: string, file: string): ServerConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (!configValidator.Check(raw)) throw new ConfigError(file, configIssues(raw).join("; "));
  return raw;
}

/** Reads config.json, creating an empty one on first start. */
export function loadConfig(file: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    writeJsonAtomic(file, {});
    return {};
  }
  return parseConfig(text, file);
}

export type SecurityProfile = "tailscale-permissive" | "strict";

export function securityProfile(config: ServerConfig): SecurityProfile {
  return config.security?.profile ?? "tailscale-permissive";
}

export const DEFAULT_PERMISSION_TIMEOUT_MS = 10 * 60 * 1000;

export function permissionTimeoutMs(config: ServerConfig): number {
  return config.permissions?.timeoutMs ?? DEFAULT_PERMISSION_TIMEOUT_MS;
}

export function unanswerablePermissions(config: ServerConfig): "deny" | "wait" {
  return config.permissions?.unanswerable ?? "deny";
}

export const DEFAULT_IDLE_UNLOAD_MINUTES = 15;

export function idleUnloadMs(config: ServerConfig): number {
  return Math.round((config.sessions?.idleUnloadMinutes ?? DEFAULT_IDLE_UNLOAD_MINUTES) * 60_000);
}

export function resolveLimits(config: ServerConfig, overrides: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, ...config.limits, ...overrides };
}
