import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { Api, Model } from "@mariozechner/pi-ai";
import type { ModelInfo, ModelSummary } from "../protocol/types.js";
import type { DataPaths } from "../store/paths.js";
import { ProviderEnv } from "./provider-env.js";

export type Sdk = typeof PiSdk;
export type AgentSession = PiSdk.AgentSession;
export type AgentSessionEvent = PiSdk.AgentSessionEvent;
export type PiModel = Model<Api>;

export interface PiRuntime {
  sdk: Sdk;
  version: string;
  authStorage: PiSdk.AuthStorage;
  modelRegistry: PiSdk.ModelRegistry;
  /** The data dir's .env, mirrored into the environment pi reads keys from. */
  providerEnv: ProviderEnv;
  /**
   * Rereads .env, auth.json and models.json, so that keys and models the user adds apply to the
   * next request; cheap enough to run before every model lookup.
   */
  reload(): void;
}

let sdkPromise: Promise<Sdk> | undefined;

/**
 * The one place the pi SDK is imported. pi resolves some paths (its tool bin dir) when its modules
 * load, so the agent dir must point into the data dir before the first import; after that the
 * module is shared by every server in the process.
 */
export function importSdk(dataDir: string): Promise<Sdk> {
  if (!sdkPromise) {
    process.env.PI_CODING_AGENT_DIR ??= dataDir;
    // No update checks, package updates or telemetry: the server makes no network call of its own.
    process.env.PI_OFFLINE ??= "1";
    sdkPromise = import("@mariozechner/pi-coding-agent");
  }
  return sdkPromise;
}

export async function loadPi(paths: DataPaths): Promise<PiRuntime> {
  const providerEnv = new ProviderEnv(paths.env);
  providerEnv.sync();
  const sdk = await importSdk(paths.root);
  const authStorage = sdk.AuthStorage.create(paths.auth);
  const modelRegistry = sdk.ModelRegistry.create(authStorage, paths.models);
  const reload = (): void => {
    providerEnv.sync();
    authStorage.reload();
    modelRegistry.refresh();
  };
  return { sdk, version: sdk.VERSION, authStorage, modelRegistry, providerEnv, reload };
}

/** pi's model object as its RPC mode reports it; built field by field so `headers` (keys) never leave. */
export function modelInfo(m: PiModel): ModelInfo {
  return {
    id: m.id,
    name: m.name,
    api: m.api,
    provider: m.provider,
    baseUrl: m.baseUrl,
    reasoning: m.reasoning,
    input: [...m.input],
    cost: {
      input: m.cost.input,
      output: m.cost.output,
      cacheRead: m.cost.cacheRead,
      cacheWrite: m.cost.cacheWrite,
    },
    contextWindow: Math.round(m.contextWindow),
    maxTokens: Math.round(m.maxTokens),
  };
}

export function modelSummary(m: PiModel): ModelSummary {
  return { id: m.id, name: m.name, provider: m.provider };
}

export function modelKey(m: PiModel): string {
  return `${m.provider}/${m.id}`;
}

/** "provider/modelId" → parts; the model id itself may contain slashes. */
export function parseModelKey(key: string): { provider: string; modelId: string } | undefined {
  const slash = key.indexOf("/");
  if (slash <= 0 || slash === key.length - 1) return undefined;
  return { provider: key.slice(0, slash), modelId: key.slice(slash + 1) };
}
