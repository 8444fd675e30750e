import { mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { ThinkingLevel } from "../protocol/types.js";
import type { ToolRuntime } from "../runtime/index.js";
import type { DataPaths } from "../store/paths.js";
import type { SessionRecord } from "../store/sessions-index.js";
import type { AgentSession, PiModel, PiRuntime } from "./pi.js";
import { serverSettings } from "./settings.js";
import type { SkillMount } from "./skills.js";

import { runtimeTools, TOOL_NAMES } from "./tools.js";
import { realOrSelf } from "../fs-paths.js";

/** The names pi looks for, in its order; the first one present is the project's context file. */
const CONTEXT_FILES = ["AGENTS.md", "AGENTS.MD", "CLAUDE.md", "CLAUDE.MD"];
/** A context file goes into every request's prompt: anything larger is not a context file. */
const MAX_CONTEXT_BYTES = 256 * 1024;

async function readProjectContext(
  runtime: ToolRuntime,
  worktree: string,
): Promise<Array<{ path: string; content: string }>> {
  for (const name of CONTEXT_FILES) {
    const path = join(worktree, name);
    let data: Buffer;
    try {
      data = await runtime.readFile(path);
    } catch {
      continue; // absent, not a regular file, or not reachable from the sandbox
    }
    if (data.length > MAX_CONTEXT_BYTES) return [];
    return [{ path, content: data.toString("utf8") }];
  }
  return [];
}

export interface AgentSessionInput {
  pi: PiRuntime;
  paths: DataPaths;
  record: SessionRecord;
  model: PiModel;
  /** The server's tool gate: the only extension a session loads. */
  gate: PiSdk.ExtensionFactory;
  runtime: ToolRuntime;
  /** More of the server's own extensions (native tools). */
  extensions?: PiSdk.ExtensionFactory[];
  /** The workspace's addition to the system prompt, before the session's own. */
  workspacePrompt?: string | null;
  /** The .md files of the skills the session gets (its workspace's allowlist, compatible ones only). */
  skillFiles?: string[];
  /** Where the sandbox sees those skills: the prompt names these paths, which the tools can read. */
  skillMounts?: SkillMount[];
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
  // pi's loader reads its files in the server's process and follows symlinks: pointed at the
  // worktree, an AGENTS.md -> ../../../.env would put the data dir's secrets in the prompt. It looks
  // in a directory of the server's instead, and the worktree's context file comes through the
  // runtime, which sees only what the tools see.
  const loaderDir = join(dirname(record.piSessionFile), "context");
  mkdirSync(loaderDir, { recursive: true, mode: 0o700 });
  const projectContext = await readProjectContext(input.runtime, cwd);
  const resourceLoader = new sdk.DefaultResourceLoader({
    cwd: loaderDir,
    agentDir,
    settingsManager,
    noExtensions: true,
    // Skills only as the server chose them (sessions/skills.ts says from where and why).
    noSkills: true,
    additionalSkillPaths: input.skillFiles ?? [],
    skillsOverride: (found) => ({
      ...found,
      skills: found.skills.map((s) => {
        const m = input.skillMounts?.find(
          (x) => s.baseDir === x.source || realOrSelf(s.baseDir) === x.source,
        );
        return m ? { ...s, filePath: join(m.target, relative(s.baseDir, s.filePath)), baseDir: m.target } : s;
      }),
    }),
    extensionFactories: [input.gate, ...(input.extensions ?? [])],
    // An override, not appendSystemPrompt: pi reads that option as a file path when one exists.
    appendSystemPromptOverride: (base) => [
      ...base,
      ...[input.workspacePrompt, record.systemPrompt].filter((p): p is string => !!p),
    ],
    agentsFilesOverride: (base) => ({ agentsFiles: [...base.agentsFiles, ...projectContext] }),
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
    // No `tools` allowlist: it would also refuse the native tools clients add later. The active
    // tools below are what the model gets: the mode's tools (a chat session has none).
    customTools: runtimeTools(sdk, cwd, input.runtime),
    resourceLoader,
    sessionManager,
    settingsManager,
  });
  if (!session.sessionName) session.setSessionName(record.name);
  session.setActiveToolsByName(baseTools(record));
  return session;
}

/** The tools of the session's mode, before native tools: the coding tools, or none for a chat. */
export function baseTools(record: SessionRecord): string[] {
  return record.mode === "chat" ? [] : [...TOOL_NAMES];
}
