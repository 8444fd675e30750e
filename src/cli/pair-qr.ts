/**
 * The pairing QR code for a terminal. An invite link is about 500 characters, so every module
 * counts: error-correction level L (the code is read off a screen, not a worn label) and
 * qrcode's half-block rendering, two rows of modules per line, keep a LAN invite under 80 columns.
 * One that is still wider than the terminal is not drawn: a wrapped code cannot be scanned.
 */
export interface TerminalQr {
  /** The code as lines to print, or undefined when it does not fit. */
  text: string | undefined;
  /** Its width in columns (modules plus the quiet zone). */
  columns: number;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Columns a printed line takes: its characters once the colour codes are gone. */
export function visibleWidth(line: string): number {
  return Array.from(line.replace(ANSI, "")).length;
}

/** The terminal's width: the tty's, else $COLUMNS, else the classic 80. */
export function terminalColumns(out: NodeJS.WriteStream = process.stdout): number {
  const env = Number(process.env.COLUMNS);
  return out.isTTY && out.columns > 0 ? out.columns : Number.isInteger(env) && env > 0 ? env : 80;
}

export async function terminalQr(link: string, maxColumns: number): Promise<TerminalQr> {
  // Only `pair` draws a QR code: the module stays out of every other command's start.
  const { default: QRCode } = await import("qrcode");
  const text = (
    await QRCode.toString(link, { type: "terminal", small: true, errorCorrectionLevel: "L" })
  ).replace(/\n+$/, "");
  const columns = Math.max(...text.split("\n").map(visibleWidth));
  return { text: columns <= maxColumns ? text : undefined, columns };
}
