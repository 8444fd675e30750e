import { HostRuntime } from "./host.js";
import type { RuntimeKind, RuntimeLimits, ToolRuntime } from "./runtime.js";
import { SandboxRuntime, type SandboxSpec } from "./sandbox.js";

export type { ExecOptions, ExecResult, RuntimeKind, RuntimeLimits, ToolRuntime } from "./runtime.js";
export { RuntimeError } from "./runtime.js";
export { probeSandbox } from "./sandbox.js";
export { buildToolEnv, envFileNames, isSecretEnvName } from "./env.js";

/** One session's runtime: the sandbox unless the owner chose "host". */
export function createToolRuntime(kind: RuntimeKind, spec: SandboxSpec, limits: RuntimeLimits): ToolRuntime {
  return kind === "host" ? new HostRuntime(spec.env, limits) : new SandboxRuntime(spec, limits);
}
