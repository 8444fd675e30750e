/**
 * C0/C1 controls, DEL, line/paragraph separators and bidirectional overrides: what can move a
 * terminal's cursor, rewrite earlier lines, change colours or reorder text. Not allowed in device
 * names, and escaped wherever the CLI prints a string it did not write itself.
 */
/* eslint-disable no-control-regex -- matching control characters is the point */
export const CONTROL_CHARS =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

export function hasControlChars(text: string): boolean {
  CONTROL_CHARS.lastIndex = 0;
  return CONTROL_CHARS.test(text);
}
