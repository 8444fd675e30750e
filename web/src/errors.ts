/** Readable sentences for the server's typed errors (docs/protocol.md, error codes). */
import { current } from "./store.js";

interface TypedError {
  code?: string;
  message?: string;
  data?: { needs?: string; reason?: string };
}

/** `what` failed: why, by the error's code, with what to do where there is something. */
export function explainError(err: unknown, what: string): string {
  const e = err as TypedError;
  const msg = e.message ?? String(err);
  switch (e.code) {
    case "forbidden": {
      const device = current.value?.deviceName ?? "this device";
      if (e.data?.needs === "admin")
        return `${what}: this device may not (${msg}). On the server, \`pi-server token grant "${device}" admin\` allows it.`;
      if (e.data?.needs === "owner") return `${what}: only the owner token may (${msg}).`;
      return `${what}: not allowed (${msg}).`;
    }
    case "not_found":
      return `${what}: not found (${msg}).`;
    case "conflict":
      return `${what}: not now (${msg}).`;
    case "limit_exceeded":
      return `${what}: over a limit (${msg}).`;
    case "invalid_request":
      return `${what}: ${msg}.`;
    default:
      return `${what}: ${msg}`;
  }
}
