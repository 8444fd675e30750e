import { dirname } from "node:path";
import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { ThinkingLevel } from "../protocol/types.js";
import type { ToolRuntime } from "../runtime/index.js";
import type { DataPaths } from "../store/paths.js";
import type { SessionRecord } from "../store/sessions-index.js";
import type { AgentSession, PiModel, PiRuntime } from "./pi.js";
import { serverSettings } from "./settings.js";
import { runtimeTools, TOOL_NAMES } from "./tools.js";

export interface AgentSessionInput {
  pi: PiRuntime;
  paths: DataPaths;
  record: SessionRecord;
  model: PiModel;
  /** The server's tool gate: the only extension a session loads. */
  gate: PiSdk.ExtensionFactory;
  runtime: ToolRuntime;
}

/**
 * A pi AgentSession as the server runs it: everything pi would read from `~/.pi` comes from the
 * data dir, the repo's own extensions and settings are not loaded (they would run in the server's
 * process), and the four tools go through the session's runtime.
 */
export async function openAgentSession(input: AgentSessionInput): Promise<AgentSession> {
  const { sdk, authStorage, modelRegistry } = input.pi;
  const { record } = input;
  const agentDir = input.paths.root;
  const cwd = record.worktree;
  const settingsManager = serverSettings(sdk, agentDir);
  const resourceLoader = new sdk.DefaultResourceLoader({
    cwd,
    agentDir,
    settingsManager,
    noExtensions: true,
    extensionFactories: [input.gate],
  });
  await resourceLoader.reload();
  const sessionManager = sdk.SessionManager.open(record.piSessionFile, dirname(record.piSessionFile), cwd);
  const { session } = await sdk.createAgentSession({
    cwd,
    agentDir,
    authStorage,
    modelRegistry,
    model: input.model,
    thinkingLevel: record.thinkingLevel as ThinkingLevel,
    tools: TOOL_NAMES,
    customTools: runtimeTools(sdk, cwd, input.runtime),
    resourceLoader,
    sessionManager,
    settingsManager,
  });
  if (!session.sessionName) session.setSessionName(record.name);
  return session;
}
