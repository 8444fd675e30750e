import type { AnyEvent } from "../client/core.js";
import { CONTROL_CHARS } from "../protocol/control-chars.js";
import type { AssistantMessageEvent } from "../protocol/events.js";

/** ANSI styles, or none: colours only on a terminal, and never with NO_COLOR set. */
export interface Style {
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  bold(s: string): string;
}

export function wantsColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

export function makeStyle(colour: boolean): Style {
  const sgr =
    (open: number, close: number) =>
    (s: string): string =>
      colour && s !== "" ? `\x1b[${open}m${s}\x1b[${close}m` : s;
  return {
    dim: sgr(2, 22),
    red: sgr(31, 39),
    green: sgr(32, 39),
    yellow: sgr(33, 39),
    cyan: sgr(36, 39),
    bold: sgr(1, 22),
  };
}

/**
 * What the agent wrote, made safe for a terminal (it may quote a hostile file): newlines and tabs
 * stay, every other control character is shown as an escape instead of being interpreted.
 */
export function safeText(text: string): string {
  return text.replace(CONTROL_CHARS, (c) => {
    if (c === "\n" || c === "\t") return c;
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** One line of `text` at most `max` characters long. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The first lines of a tool's output, with how much was left out. */
export function truncateOutput(text: string, maxLines = 8, maxChars = 800): string {
  const lines = text.replace(/\n+$/, "").split("\n");
  let out = lines.slice(0, maxLines).join("\n");
  let cut = lines.length - Math.min(lines.length, maxLines);
  if (out.length > maxChars) {
    out = out.slice(0, maxChars);
    cut = lines.length - out.split("\n").length;
    out += "…";
  }
  return cut > 0 ? `${out}\n… (${cut} more line${cut === 1 ? "" : "s"})` : out;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The tool and what it works on: the command, or the path (and pattern) of a file tool. */
export function toolCallLine(name: string, args: unknown): string {
  const a = isObj(args) ? args : {};
  const command = str(a.command);
  if (command !== undefined) return `${name}: ${oneLine(command, 300)}`;
  const path = str(a.path) ?? str(a.file_path);
  const pattern = str(a.pattern);
  const parts = [name];
  if (pattern !== undefined) parts.push(JSON.stringify(oneLine(pattern, 120)));
  if (path !== undefined) parts.push(oneLine(path, 200));
  const content = str(a.content);
  if (content !== undefined) parts.push(`(${Buffer.byteLength(content)} bytes)`);
  if (parts.length === 1 && Object.keys(a).length > 0) parts.push(oneLine(JSON.stringify(a), 200));
  return parts.join(" ");
}

/** The text blocks of a tool result (pi's `{content: [{type: "text", text}]}`). */
export function resultText(result: unknown): string {
  const content = isObj(result) ? result.content : undefined;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((b) => (isObj(b) && typeof b.text === "string" ? b.text : isObj(b) ? `[${String(b.type)}]` : ""))
    .join("");
}

export function messageText(message: unknown): string {
  return resultText(message);
}

/** What tells two messages apart across a reload: get_messages returns pi's own timestamps. */
export function messageKey(message: unknown): string {
  const m = isObj(message) ? message : {};
  const ts = typeof m.timestamp === "number" ? String(m.timestamp) : `?${oneLine(messageText(m), 60)}`;
  return `${String(m.role)}:${ts}:${str(m.toolCallId) ?? ""}`;
}

/** The assistant message being streamed, and what of it is on the screen already. */
interface LiveMessage {
  key: string | undefined;
  texts: Map<number, string>;
  thinking: Map<number, string>;
  thinkingShown: Set<number>;
  /** Some of its deltas were missed (a replay gap): print it whole at message_end instead. */
  resync: boolean;
  /** Already printed in full (by a reload). */
  skip: boolean;
}

/**
 * Prints a session's events as a transcript. It remembers what it printed (messages by key, tool
 * calls and results by id), so replayed or reloaded events print nothing twice and a message whose
 * deltas were partly missed is completed from its final form.
 */
export class Renderer {
  private atLineStart = true;
  private readonly printed = new Set<string>();
  private readonly callsShown = new Set<string>();
  private readonly resultsShown = new Set<string>();
  private live: LiveMessage | undefined;
  /** Texts this client sent, not seen coming back yet (they are not echoed again). */
  private readonly own: string[] = [];
  private runStartedAt = 0;

  constructor(
    private readonly out: (s: string) => void,
    readonly style: Style,
  ) {}

  write(s: string): void {
    if (s === "") return;
    this.out(s);
    this.atLineStart = s.endsWith("\n");
  }

  /** Ends a half-written line, so what follows starts on its own. */
  breakLine(): void {
    if (!this.atLineStart) this.write("\n");
  }

  /** The terminal's own echo of a typed line ended the line. */
  typedLine(): void {
    this.atLineStart = true;
  }

  line(s: string): void {
    this.breakLine();
    this.write(`${s}\n`);
  }

  /** A message this client sent: when it comes back as a user message, it is not printed again. */
  sent(text: string): void {
    this.own.push(text);
  }

  event(e: AnyEvent): void {
    const s = this.style;
    switch (e.type) {
      case "agent_start":
        this.runStartedAt = Date.now();
        return;
      case "message_start": {
        const m = e.payload.message;
        if (isObj(m) && m.role === "assistant") {
          const key = messageKey(m);
          this.live = this.newLive(key, false);
          this.live.skip = this.printed.has(key);
        }
        return;
      }
      case "message_update":
        return this.update(e.payload.assistantMessageEvent);
      case "message_end":
        return this.messageEnd(e.payload.message);
      case "tool_execution_start":
        return this.showCall(e.payload.toolCallId, e.payload.toolName, e.payload.args);
      case "tool_execution_end":
        return this.showResult(e.payload.toolCallId, e.payload.result, e.payload.isError);
      case "agent_end": {
        const secs = this.runStartedAt ? ` in ${((Date.now() - this.runStartedAt) / 1000).toFixed(1)}s` : "";
        this.runStartedAt = 0;
        if (!e.payload.success) this.line(s.red(`── turn failed${secs}`));
        else this.line(s.dim(`── done${secs}`));
        return;
      }
      case "auto_retry_start":
        this.line(
          s.yellow(
            `retrying (attempt ${e.payload.attempt}/${e.payload.maxAttempts}): ${safeText(oneLine(e.payload.errorMessage, 200))}`,
          ),
        );
        return;
      case "compaction_start":
        this.line(s.dim(`compacting the conversation (${safeText(e.payload.reason)})…`));
        return;
      case "compaction_end":
        if (e.payload.errorMessage)
          this.line(s.red(`compaction failed: ${safeText(e.payload.errorMessage)}`));
        return;
      case "model_changed":
        this.line(s.dim(`model: ${safeText(`${e.payload.provider}/${e.payload.modelId}`)}`));
        return;
      case "server_shutdown":
        this.line(s.yellow(`the server is stopping: ${safeText(e.payload.reason)}`));
        return;
      default:
        return;
    }
  }

  private newLive(key: string | undefined, resync: boolean): LiveMessage {
    return { key, texts: new Map(), thinking: new Map(), thinkingShown: new Set(), resync, skip: false };
  }

  private update(ev: AssistantMessageEvent): void {
    // Deltas without their message_start: some were missed, the final message fills in.
    const live = (this.live ??= this.newLive(undefined, true));
    if (live.skip || live.resync) return;
    const i = ev.contentIndex ?? 0;
    if (ev.type === "text_delta" && ev.delta) {
      this.write(safeText(ev.delta));
      live.texts.set(i, (live.texts.get(i) ?? "") + ev.delta);
    } else if (ev.type === "thinking_delta" && ev.delta) {
      live.thinking.set(i, (live.thinking.get(i) ?? "") + ev.delta);
    } else if (ev.type === "thinking_end") {
      this.thinkingLine(live.thinking.get(i) ?? "");
      live.thinkingShown.add(i);
    }
  }

  private thinkingLine(text: string): void {
    if (text.trim() === "") return;
    this.line(this.style.dim(`∴ ${safeText(oneLine(text, 100))} (${text.length} chars of thinking)`));
  }

  private messageEnd(message: unknown): void {
    if (!isObj(message)) return;
    const key = messageKey(message);
    if (message.role === "assistant") {
      const live = this.live;
      this.live = undefined;
      if (this.printed.has(key)) return;
      this.printed.add(key);
      this.assistant(message, live && (live.key === key || live.key === undefined) ? live : undefined);
      return;
    }
    if (this.printed.has(key)) return;
    this.printed.add(key);
    if (message.role === "user") this.userMessage(message);
    else if (message.role === "toolResult") {
      const id = str(message.toolCallId);
      if (id) this.showResult(id, message, message.isError === true);
    } else {
      const text = messageText(message);
      if (text.trim() !== "") this.line(this.style.dim(safeText(truncateOutput(text))));
    }
  }

  private userMessage(m: Obj): void {
    const text = messageText(m);
    const mine = this.own.indexOf(text);
    if (mine >= 0) {
      this.own.splice(mine, 1);
      return;
    }
    this.line(this.style.bold(`› ${safeText(text)}`) + this.style.dim("  (sent elsewhere)"));
  }

  /** Prints what of an assistant message is not on the screen yet. */
  private assistant(m: Obj, live: LiveMessage | undefined): void {
    const content = Array.isArray(m.content) ? m.content : [];
    let wroteText = false;
    content.forEach((block: unknown, i) => {
      if (!isObj(block)) return;
      if (block.type === "text" && typeof block.text === "string") {
        const shown = live?.texts.get(i) ?? "";
        const rest = block.text.startsWith(shown) ? block.text.slice(shown.length) : block.text;
        if (shown === "" && rest !== "") this.breakLine();
        this.write(safeText(rest));
        wroteText ||= block.text !== "";
      } else if (block.type === "thinking" && typeof block.thinking === "string") {
        if (!live?.thinkingShown.has(i)) this.thinkingLine(block.thinking);
      }
    });
    if (wroteText) this.breakLine();
    if (m.stopReason === "error")
      this.line(
        this.style.red(`✗ ${safeText(str(m.errorMessage) ?? "the model provider returned an error")}`),
      );
    else if (m.stopReason === "aborted") this.line(this.style.yellow("(aborted)"));
  }

  private showCall(id: string, name: string, args: unknown): void {
    if (this.callsShown.has(id)) return;
    this.callsShown.add(id);
    this.line(this.style.cyan(`→ ${safeText(toolCallLine(name, args))}`));
  }

  private showResult(id: string, result: unknown, isError: boolean): void {
    if (this.resultsShown.has(id)) return;
    this.resultsShown.add(id);
    const text = truncateOutput(resultText(result));
    const body = text === "" ? "(no output)" : safeText(text);
    const indented = body
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n");
    this.line(isError ? this.style.red(`✗${indented.slice(1)}`) : this.style.dim(indented));
  }

  /**
   * After a replay gap: the conversation's latest messages, of which only what was never printed
   * is printed. A message still streaming is finished from its message_end.
   */
  reload(messages: unknown[]): void {
    const live = this.live;
    for (const m of messages) {
      if (!isObj(m)) continue;
      const key = messageKey(m);
      if (m.role === "assistant") {
        if (!this.printed.has(key)) {
          this.printed.add(key);
          this.assistant(m, live?.key === key ? live : undefined);
        }
        const content = Array.isArray(m.content) ? m.content : [];
        for (const b of content)
          if (isObj(b) && b.type === "toolCall" && typeof b.id === "string")
            this.showCall(b.id, str(b.name) ?? "tool", b.arguments);
      } else this.messageEnd(m);
    }
    if (live?.key !== undefined && this.printed.has(live.key)) this.live = undefined;
    else if (live) live.resync = true;
  }
}
