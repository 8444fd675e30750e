import { readFileSync } from "node:fs";
import { Type, type Static } from "typebox";
import { Compile } from "typebox/compile";
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
        },
        { additionalProperties: false },
      ),
    ),
    limits: Type.Optional(
      Type.Object(
        {
          maxFrameBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 })),
          maxSessions: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
          replayBufferEvents: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
          helloTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000 })),
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
  replayBufferEvents: number;
  helloTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxFrameBytes: 8 * 1024 * 1024,
  maxSessions: 200,
  replayBufferEvents: 5000,
  helloTimeoutMs: 10_000,
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

/** Names the offending key, e.g. `/limits/maxSessions: must be integer`. */
export function configIssues(value: unknown): string[] {
  return configValidator.Errors(value).map((e) => {
    const where = e.instancePath === "" ? "(top level)" : e.instancePath;
    if (e.keyword === "additionalProperties") {
      const extra = (e.params as { additionalProperties: string[] }).additionalProperties;
      return `${where}: unknown key ${extra.map((k) => JSON.stringify(k)).join(", ")}`;
    }
    return `${where}: ${e.message}`;
  });
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

export function resolveLimits(config: ServerConfig, overrides: Partial<Limits> = {}): Limits {
  return { ...DEFAULT_LIMITS, ...config.limits, ...overrides };
}
