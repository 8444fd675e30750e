import { loadPi, modelKey, parseModelKey, type PiRuntime } from "../sessions/pi.js";
import type { DataPaths } from "../store/paths.js";
import { CliError } from "./context.js";

/** pi as the server would see it now: the data dir's .env, auth.json and models.json. */
export async function piNow(paths: DataPaths): Promise<{ pi: PiRuntime; modelsError?: string }> {
  const pi = await loadPi(paths);
  pi.reload();
  const err = pi.modelRegistry.getError();
  return err ? { pi, modelsError: err.replace(/\s*\n\s*/g, " ").trim() } : { pi };
}

/**
 * Refuses a default model pi does not know; a known one without a key is saved with a note saying
 * where the key goes.
 */
export async function checkModel(paths: DataPaths, key: unknown): Promise<string | undefined> {
  const ref = typeof key === "string" ? parseModelKey(key) : undefined;
  if (!ref) return undefined;
  const { pi, modelsError } = await piNow(paths);
  const model = pi.modelRegistry.find(ref.provider, ref.modelId);
  if (!model) {
    const same = pi.modelRegistry
      .getAll()
      .filter((m) => m.provider === ref.provider)
      .map(modelKey);
    const hint =
      same.length > 0
        ? `; ${ref.provider} has e.g. ${same.slice(-5).join(", ")}`
        : `; pi knows no provider "${ref.provider}"`;
    const broken = modelsError ? ` (models.json was not loaded: ${modelsError})` : "";
    throw new CliError(`unknown model ${String(key)}${hint}${broken}; nothing was saved`);
  }
  if (!pi.modelRegistry.hasConfiguredAuth(model))
    return `note: no API key for ${ref.provider} yet: ${pi.providerEnv.explainMissing(ref.provider, paths.auth)}`;
  return undefined;
}
