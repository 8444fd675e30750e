import type { AgentMessage, AgentTool, AgentToolResult } from "@mariozechner/pi-agent-core";
import type { AssistantMessage, ToolCall as PiToolCall, ToolResultMessage } from "@mariozechner/pi-ai";
import type { PermissionRecord } from "../store/permission-requests.js";
import type { AgentSession, AgentSessionEvent } from "./pi.js";
import type { GateResult, ToolCall } from "./permissions.js";

/**
 * A turn a previous process left waiting for a permission answer: the last assistant message of the
 * history and the tool calls of it that have no result yet. pi persists the assistant message before
 * any of its calls is gated, and (in parallel mode) runs none of them before all are gated, so while
 * one of them waits, none of the calls without a result has run.
 */
export interface ResumePlan {
  assistant: AssistantMessage;
  calls: PiToolCall[];
  /** Dormant requests this turn waits for again. */
  resumed: PermissionRecord[];
  /** Dormant requests of calls that are not waiting here (cancelled: their turn is gone). */
  stale: PermissionRecord[];
}

export function planResume(
  messages: readonly AgentMessage[],
  dormant: readonly PermissionRecord[],
): ResumePlan | undefined {
  let i = messages.length - 1;
  const done = new Set<string>();
  while (i >= 0 && messages[i]?.role === "toolResult") {
    done.add((messages[i] as ToolResultMessage).toolCallId);
    i--;
  }
  const last = messages[i];
  if (!last || last.role !== "assistant") return undefined;
  const assistant = last;
  if (assistant.stopReason === "error" || assistant.stopReason === "aborted") return undefined;
  const calls = assistant.content.filter((c): c is PiToolCall => c.type === "toolCall" && !done.has(c.id));
  const open = new Map(calls.map((c) => [c.id, c.name]));
  const resumed = dormant.filter((r) => open.get(r.toolCallId) === r.tool);
  const stale = dormant.filter((r) => !resumed.includes(r));
  if (resumed.length === 0) return undefined;
  return { assistant, calls, resumed, stale };
}

export interface ResumeDeps {
  agent: AgentSession;
  /** The broker's gate for a resumed call (re-arms the dormant request that showed it). */
  gate: (call: ToolCall, signal: AbortSignal) => Promise<GateResult>;
  /** Where pi's events go, as if pi's own loop had made them (translated for the clients). */
  emit: (e: AgentSessionEvent) => void;
}

function errorResult(text: string): AgentToolResult<unknown> {
  return { content: [{ type: "text", text }], details: {} };
}

/**
 * Runs the calls that have no result yet, each through the gate and then the session's own tool (the
 * same runtime, sandbox and hooks as pi's loop), and appends their results to the history. The turn
 * goes on with pi's `continue()` afterwards.
 */
export async function runResumedCalls(
  deps: ResumeDeps,
  plan: ResumePlan,
  signal: AbortSignal,
): Promise<void> {
  const { validateToolArguments } = await import("@mariozechner/pi-ai");
  const core = deps.agent.agent;
  const results: ToolResultMessage[] = [];
  for (const call of plan.calls) {
    deps.emit({
      type: "tool_execution_start",
      toolCallId: call.id,
      toolName: call.name,
      args: call.arguments,
    });
    const tool = core.state.tools.find((t) => t.name === call.name) as AgentTool | undefined;
    let result: AgentToolResult<unknown>;
    let isError = true;
    if (signal.aborted) result = errorResult("The turn was aborted; the tool call did not run.");
    else if (!tool) result = errorResult(`Tool ${call.name} not found`);
    else {
      try {
        const prepared: PiToolCall = tool.prepareArguments
          ? { ...call, arguments: tool.prepareArguments(call.arguments) as Record<string, unknown> }
          : call;
        const args = validateToolArguments(tool, prepared) as Record<string, unknown>;
        const verdict = await deps.gate({ toolCallId: call.id, tool: call.name, input: args }, signal);
        if (verdict?.block) result = errorResult(verdict.reason);
        else {
          ({ result, isError } = await execute(deps, tool, call, args, signal));
          const after = await core.afterToolCall?.(
            {
              assistantMessage: plan.assistant,
              toolCall: call,
              args,
              result,
              isError,
              context: {
                systemPrompt: core.state.systemPrompt,
                messages: core.state.messages,
                tools: core.state.tools,
              },
            },
            signal,
          );
          if (after) {
            result = {
              ...result,
              content: after.content ?? result.content,
              details: after.details ?? result.details,
            };
            isError = after.isError ?? isError;
          }
        }
      } catch (err) {
        result = errorResult(err instanceof Error ? err.message : String(err));
        isError = true;
      }
    }
    deps.emit({ type: "tool_execution_end", toolCallId: call.id, toolName: call.name, result, isError });
    results.push({
      role: "toolResult",
      toolCallId: call.id,
      toolName: call.name,
      content: result.content,
      details: result.details,
      isError,
      timestamp: Date.now(),
    });
  }
  for (const message of results) {
    deps.emit({ type: "message_start", message });
    deps.emit({ type: "message_end", message });
    deps.agent.sessionManager.appendMessage(message);
    core.state.messages = [...core.state.messages, message];
  }
}

async function execute(
  deps: ResumeDeps,
  tool: AgentTool,
  call: PiToolCall,
  args: Record<string, unknown>,
  signal: AbortSignal,
): Promise<{ result: AgentToolResult<unknown>; isError: boolean }> {
  try {
    const result = await tool.execute(call.id, args, signal, (partialResult) =>
      deps.emit({
        type: "tool_execution_update",
        toolCallId: call.id,
        toolName: call.name,
        args: call.arguments,
        partialResult,
      }),
    );
    return { result, isError: false };
  } catch (err) {
    return { result: errorResult(err instanceof Error ? err.message : String(err)), isError: true };
  }
}
