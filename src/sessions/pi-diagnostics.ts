import type { DataPaths } from "../store/paths.js";
import { loadPi, modelKey } from "./pi.js";

export interface PiDiagnosis {
  version: string;
  /** pi's own error for models.json, when it cannot be loaded. */
  modelsError: string | undefined;
  /** Providers with a usable key (from auth.json or the environment), names only. */
  providersWithKeys: string[];
  /** Whether "provider/modelId" exists and has a key. */
  modelUsable(key: string): "usable" | "no-key" | "unknown";
}

/** What `pi-server doctor` asks of pi: loads the data dir's auth.json and models.json as the server would. */
export async function diagnosePi(paths: DataPaths): Promise<PiDiagnosis> {
  const pi = await loadPi(paths);
  const registry = pi.modelRegistry;
  const available = registry.getAvailable();
  const all = registry.getAll();
  return {
    version: pi.version,
    modelsError: registry.getError(),
    providersWithKeys: [...new Set(available.map((m) => m.provider))].sort(),
    modelUsable(key) {
      if (available.some((m) => modelKey(m) === key)) return "usable";
      return all.some((m) => modelKey(m) === key) ? "no-key" : "unknown";
    },
  };
}
