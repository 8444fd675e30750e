import type { Logger } from "pino";
import { ProtocolError } from "../protocol/errors.js";
import type { ModelInfo } from "../protocol/types.js";
import type { ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import type { SessionRecord } from "../store/sessions-index.js";
import { type PiModel, type PiRuntime, modelInfo, parseModelKey } from "./pi.js";

export interface SessionModelsDeps {
  pi: PiRuntime;
  paths: DataPaths;
  config: () => ServerConfig;
  log: Logger;
}

/**
 * Which model a session runs: always one chosen explicitly (pi would otherwise take the first
 * "available" one), looked up in a registry reloaded first so models.json edits count at once.
 */
export class SessionModels {
  constructor(private readonly deps: SessionModelsDeps) {}

  available(): { models: ModelInfo[]; modelsError?: string } {
    const registry = this.deps.pi.modelRegistry;
    this.deps.pi.reload();
    const models = registry.getAvailable().map(modelInfo);
    const modelsError = this.loadError();
    return modelsError ? { models, modelsError } : { models };
  }

  /** pi's reason for rejecting models.json (it then drops every model in it), in one line. */
  private loadError(): string | undefined {
    const err = this.deps.pi.modelRegistry.getError();
    if (!err) return undefined;
    this.deps.log.warn({ err }, "models.json could not be loaded");
    return err.replace(/\s*\n\s*/g, " ").trim();
  }

  /** A model that exists and has credentials, or a typed error that says which is missing. */
  find(provider: string, modelId: string): PiModel {
    const registry = this.deps.pi.modelRegistry;
    this.deps.pi.reload();
    const model = registry.find(provider, modelId);
    const modelsError = this.loadError();
    const data = modelsError ? { modelsError } : undefined;
    if (!model) {
      throw new ProtocolError(
        "not_found",
        `unknown model ${provider}/${modelId}; get_available_models lists the usable ones`,
        data,
        modelsError ? `models.json was not loaded: ${modelsError}` : undefined,
      );
    }
    if (!registry.hasConfiguredAuth(model)) {
      throw new ProtocolError(
        "invalid_request",
        `no credentials for provider ${provider}: ${this.deps.pi.providerEnv.explainMissing(provider, this.deps.paths.auth)}`,
        { provider, ...data },
      );
    }
    return model;
  }

  /** `key` ("provider/modelId"), else the configured default; a typed error for neither. */
  resolve(key: string | undefined): PiModel {
    const chosen = key ?? this.deps.config().defaultModel;
    if (!chosen) {
      throw new ProtocolError(
        "invalid_request",
        `no model chosen: pass "model" ("provider/modelId") or set defaultModel in ${this.deps.paths.config}`,
      );
    }
    const ref = parseModelKey(chosen);
    if (!ref)
      throw new ProtocolError(
        "invalid_request",
        `model must be "provider/modelId", got ${JSON.stringify(chosen)}`,
      );
    return this.find(ref.provider, ref.modelId);
  }

  /** Never lets pi pick "the first available" model silently: the session's own, else the default. */
  forReopen(record: SessionRecord): PiModel {
    const ref = record.model ? parseModelKey(record.model) : undefined;
    if (ref) {
      try {
        return this.find(ref.provider, ref.modelId);
      } catch (err) {
        if (!this.deps.config().defaultModel) throw err;
        this.deps.log.warn(
          { sessionId: record.id, model: record.model },
          "session model unavailable; using default",
        );
      }
    }
    return this.resolve(undefined);
  }
}
