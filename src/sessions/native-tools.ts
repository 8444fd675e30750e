import type * as PiSdk from "@mariozechner/pi-coding-agent";
import { Compile } from "typebox/compile";
import type { NativeToolSpec } from "../protocol/native-tools.js";
import type { AgentSession } from "./pi.js";
import type { NativeCalls } from "./native-calls.js";

/** One attached connection that offers tools it runs itself. */
export interface NativeClient {
  connectionId: string;
  tools: readonly NativeToolSpec[];
  /** Sends an event frame to this connection only. */
  sendFrame(data: string): void;
}

/** Builds an event frame of the session for one connection (outside the seq stream). */
export type NativeFrame = (type: "native_tool_request" | "native_tool_cancel", payload: object) => string;

/** pi's own tool names: a client tool by one of these would replace the server's (sandboxed) tool. */
const RESERVED = new Set(["read", "bash", "edit", "write", "find", "grep", "ls"]);
const EMPTY_OBJECT_SCHEMA = { type: "object", properties: {} };

/** Splits a hello's tools into those a session can offer the model and those it cannot, with why. */
export function acceptNativeTools(specs: readonly NativeToolSpec[]): {
  accepted: NativeToolSpec[];
  rejected: { name: string; reason: string }[];
} {
  const accepted: NativeToolSpec[] = [];
  const rejected: { name: string; reason: string }[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    const reason = RESERVED.has(spec.name)
      ? "the server's own tool has this name"
      : seen.has(spec.name)
        ? "offered twice"
        : schemaProblem(spec.parameters);
    if (reason) rejected.push({ name: spec.name, reason });
    else accepted.push(spec);
    seen.add(spec.name);
  }
  return { accepted, rejected };
}

/** Tool parameters go to the model provider and to pi's argument validator: both need an object schema. */
function schemaProblem(parameters: Record<string, unknown> | undefined): string | undefined {
  if (parameters === undefined) return undefined;
  if (parameters.type !== "object") return 'parameters must be a JSON Schema with type "object"';
  try {
    Compile(parameters as never);
    return undefined;
  } catch (err) {
    return `parameters are not a usable JSON Schema: ${(err as Error).message}`;
  }
}

/** Captures the extension API of a session so native tools can be registered once it runs. */
export function nativeToolsExtension(holder: { api?: PiSdk.ExtensionAPI }): PiSdk.ExtensionFactory {
  return (pi) => {
    holder.api = pi;
  };
}

/**
 * A session's native tools: the union of what its attached connections offer (the most recently
 * attached one wins a name). Each call goes to one connection that offers the tool, through the
 * same policy gate as every tool (pi's tool_call hook runs before execute).
 */
export class NativeToolHost {
  private clients: NativeClient[] = [];
  private readonly registered = new Map<string, string>();
  private active = "";

  constructor(
    private readonly holder: { api?: PiSdk.ExtensionAPI },
    private readonly agent: AgentSession,
    private readonly baseTools: readonly string[],
    private readonly calls: NativeCalls,
    private readonly frame: NativeFrame,
  ) {}

  /** `clients` newest first. */
  update(clients: NativeClient[]): void {
    this.clients = clients;
    const byName = new Map<string, NativeToolSpec>();
    for (const c of clients) for (const t of c.tools) if (!byName.has(t.name)) byName.set(t.name, t);
    const api = this.holder.api;
    for (const [name, spec] of byName) {
      const key = JSON.stringify(spec);
      if (!api || this.registered.get(name) === key) continue;
      api.registerTool(this.definition(spec));
      this.registered.set(name, key);
    }
    const names = [...this.baseTools, ...byName.keys()];
    if (names.join("\n") === this.active) return;
    this.active = names.join("\n");
    this.agent.setActiveToolsByName(names);
  }

  private definition(spec: NativeToolSpec): PiSdk.ToolDefinition {
    return {
      name: spec.name,
      label: spec.name,
      description: spec.description ?? `${spec.name} (runs on the user's device)`,
      parameters: (spec.parameters ?? EMPTY_OBJECT_SCHEMA) as never,
      execute: async (_toolCallId, params, signal) => {
        const client = this.clients.find((c) => c.tools.some((t) => t.name === spec.name));
        if (!client) throw new Error(`No connected client offers ${spec.name} now.`);
        const args = (params ?? {}) as Record<string, unknown>;
        return this.calls.call(
          {
            connectionId: client.connectionId,
            request: (payload) => client.sendFrame(this.frame("native_tool_request", payload)),
            cancel: (payload) => client.sendFrame(this.frame("native_tool_cancel", payload)),
          },
          spec.name,
          args,
          signal,
        );
      },
    };
  }
}
