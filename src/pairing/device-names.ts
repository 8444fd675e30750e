import { hasControlChars } from "../protocol/control-chars.js";
import { ProtocolError } from "../protocol/errors.js";

/**
 * Names that stand for the server or its owner in the audit log, in `decided by` fields and in
 * CLI output; a device using one would pass itself off as them.
 */
const RESERVED = new Set([
  "owner",
  "admin",
  "administrator",
  "root",
  "server",
  "pi-server",
  "pi_server_token",
  "env",
  "cli",
  "policy",
  "system",
  "timeout",
  "abort",
  "shutdown",
  "restart",
  "deleted",
]);

/** Why `name` cannot be a device name, or undefined when it can. */
export function deviceNameProblem(name: string): string | undefined {
  if (hasControlChars(name)) return "device name contains control characters";
  const trimmed = name.trim();
  if (trimmed === "") return "device name is empty";
  if (trimmed !== name) return "device name starts or ends with white space";
  if (name.length > 100) return "device name is longer than 100 characters";
  if (RESERVED.has(name.toLowerCase())) return `device name "${name}" is reserved`;
  return undefined;
}

/** Throws `invalid_request` (details.reason "device_name") for a name a device may not carry. */
export function checkDeviceName(name: string): void {
  const problem = deviceNameProblem(name);
  if (problem) throw new ProtocolError("invalid_request", problem, { reason: "device_name" });
}
