import { CONTROL_CHARS } from "../protocol/control-chars.js";

/**
 * Makes a string that came from elsewhere (a device's name, a session or repo name, a command
 * in the audit log) safe to print on a terminal: each control character is shown as an escape
 * (`\x1b`, `\u202e`) instead of being interpreted.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL_CHARS, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
