import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { GateSession, PermissionBroker } from "./permissions.js";

/**
 * The pi extension the server injects into every session: each tool call waits for the broker's
 * verdict. The signal is the turn's, so an abort ends the wait instead of hanging the agent.
 */
export function gateExtension(
  broker: PermissionBroker,
  session: () => GateSession | undefined,
): PiSdk.ExtensionFactory {
  return (pi) => {
    pi.on("tool_call", async (event, ctx) => {
      const s = session();
      if (!s) return { block: true, reason: "The session is still starting; try again." };
      let signal: AbortSignal | undefined;
      try {
        signal = ctx.signal;
      } catch {
        signal = undefined;
      }
      const input = (event.input ?? {}) as Record<string, unknown>;
      return broker.gate(s, { toolCallId: event.toolCallId, tool: event.toolName, input }, signal);
    });
  };
}
