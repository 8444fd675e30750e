import { ProtocolError } from "../protocol/errors.js";
import type { ParamsOf } from "../protocol/methods.js";
import type { SessionMode } from "../protocol/types.js";

/**
 * The combinations of session.create params the schema alone cannot rule out: a mode that
 * contradicts repoId, and a model named twice (as "provider/modelId" and as provider + modelId) or
 * by half.
 */
export function checkCreateParams(params: ParamsOf<"session.create">): {
  mode: SessionMode;
  modelKey: string | undefined;
} {
  const mode: SessionMode = params.mode ?? "code";
  if (mode === "chat" && params.repoId !== undefined) {
    throw new ProtocolError("invalid_request", 'a chat session has no repo: drop repoId or use mode "code"');
  }
  if ((params.provider === undefined) !== (params.modelId === undefined)) {
    throw new ProtocolError("invalid_request", "provider and modelId go together: pass both or neither");
  }
  let modelKey = params.model;
  if (params.provider !== undefined && params.modelId !== undefined) {
    const pair = `${params.provider}/${params.modelId}`;
    if (modelKey !== undefined && modelKey !== pair) {
      throw new ProtocolError(
        "invalid_request",
        `model ${JSON.stringify(modelKey)} and provider/modelId ${JSON.stringify(pair)} disagree; pass one`,
      );
    }
    modelKey = pair;
  }
  return { mode, modelKey };
}

export function defaultName(mode: SessionMode, repoName: string | undefined, id: string): string {
  const short = id.slice(0, 6);
  if (repoName !== undefined) return `${repoName} ${short}`;
  return mode === "chat" ? `chat ${short}` : `scratch ${short}`;
}
