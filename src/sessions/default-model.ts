import { ProtocolError } from "../protocol/errors.js";
import type { ModelInfo } from "../protocol/types.js";
import { writeJsonAtomic } from "../store/atomic.js";
import { ConfigError, loadConfig } from "../store/config.js";
import { type PiModel, modelInfo, modelKey, parseModelKey } from "./pi.js";

type FindModel = (provider: string, modelId: string) => PiModel;

function readConfig(file: string): ReturnType<typeof loadConfig> {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) throw new ProtocolError("internal", err.message);
    throw err;
  }
}

/** config.json's defaultModel (else `fallback`), when it names a model pi can use now. */
export function getDefaultModel(
  configFile: string,
  findModel: FindModel,
  fallback?: string,
): ModelInfo | undefined {
  const key = readConfig(configFile).defaultModel ?? fallback;
  const ref = key ? parseModelKey(key) : undefined;
  if (!ref) return undefined;
  try {
    return modelInfo(findModel(ref.provider, ref.modelId));
  } catch {
    // A default that names a removed model or a provider without a key is no default a client can use.
    return undefined;
  }
}

/** Writes defaultModel into config.json (atomically, keeping every other key); new sessions use it. */
export function setDefaultModel(
  configFile: string,
  findModel: FindModel,
  provider: string,
  modelId: string,
): ModelInfo {
  const model = findModel(provider, modelId);
  const config = readConfig(configFile);
  writeJsonAtomic(configFile, { ...config, defaultModel: modelKey(model) });
  return modelInfo(model);
}
