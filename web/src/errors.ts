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
      // The server's message names the protocol method; a person needs to know who may, and how.
      if (e.data?.needs === "admin")
        return `${what}: this needs an admin device. To allow it, run pi-server token grant "${device}" admin on the server.`;
      if (e.data?.needs === "owner") return `${what}: only the server's owner may do this.`;
      return `${what}: this device is not allowed to.`;
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
