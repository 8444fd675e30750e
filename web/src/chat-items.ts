/**
 * Turns pi's messages (from get_messages) and the live event stream into the list the chat shows.
 * Pure functions over plain objects, so the streaming logic can be reasoned about on its own.
 */
import type { ToolCallDecision } from "../../src/protocol/permissions.js";

export interface TextBlock {
  kind: "text" | "thinking";
  text: string;
}

export type ChatItem =
  | { kind: "user"; key: string; text: string; images: number }
  | {
      kind: "assistant";
      key: string;
      blocks: TextBlock[];
      streaming: boolean;
      error?: string;
      aborted?: boolean;
    }
  | {
      kind: "tool";
      key: string;
      name: string;
      args: unknown;
      output: string;
      state: "pending" | "running" | "done" | "error";
      note?: string;
    }
  | { kind: "notice"; key: string; text: string; tone: "info" | "error" };

interface Block {
  type?: string;
  text?: string;
  thinking?: string;
  id?: string;
  name?: string;
  arguments?: unknown;
}

export interface PiMessage {
  role?: string;
  content?: string | Block[];
  timestamp?: number;
  stopReason?: string;
  errorMessage?: string;
  toolCallId?: string;
  toolName?: string;
  isError?: boolean;
  piRole?: string;
}

/** The text of a tool result or partial result (`{content: [{type: "text", text}]}`). */
export function resultText(result: unknown): string {
  const content = (result as { content?: unknown } | undefined)?.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((c: Block) => (c.type === "text" ? (c.text ?? "") : c.type === "image" ? "[image]" : ""))
    .join("");
}

function textOf(content: PiMessage["content"]): string {
  if (typeof content === "string") return content;
  return (content ?? []).map((b) => (b.type === "text" ? (b.text ?? "") : "")).join("");
}

/** A message's identity across get_messages and message_end, so a reload never shows it twice. */
export function messageKey(m: PiMessage, fallback: string): string {
  return m.timestamp !== undefined ? `${m.role}:${m.timestamp}` : fallback;
}

function assistantItem(m: PiMessage, key: string): ChatItem {
  const blocks: TextBlock[] = [];
  for (const b of Array.isArray(m.content) ? m.content : []) {
    if (b.type === "text" && b.text) blocks.push({ kind: "text", text: b.text });
    if (b.type === "thinking" && b.thinking) blocks.push({ kind: "thinking", text: b.thinking });
  }
  return {
    kind: "assistant",
    key,
    blocks,
    streaming: false,
    ...(m.stopReason === "error" ? { error: m.errorMessage ?? "the model provider failed" } : {}),
    ...(m.stopReason === "aborted" ? { aborted: true } : {}),
  };
}

function toolCallsOf(m: PiMessage): Block[] {
  return (Array.isArray(m.content) ? m.content : []).filter((b) => b.type === "toolCall" && b.id);
}

/** Applies one finished message; returns the new list (the old one is never mutated). */
export function applyMessage(items: ChatItem[], m: PiMessage, fallbackKey: string): ChatItem[] {
  const key = messageKey(m, fallbackKey);
  if (m.role === "user") {
    if (items.some((i) => i.key === key)) return items;
    const images = Array.isArray(m.content) ? m.content.filter((b) => b.type === "image").length : 0;
    return [...items, { kind: "user", key, text: textOf(m.content), images }];
  }
  if (m.role === "assistant") {
    const final = assistantItem(m, key);
    let out = items.filter((i) => !(i.kind === "assistant" && i.streaming));
    const at = out.findIndex((i) => i.key === key);
    if (at >= 0) out[at] = final;
    else {
      // Tool cards created while the message streamed belong after its text: put the text before them.
      const firstTool = out.findIndex((i) => i.kind === "tool" && toolCallsOf(m).some((b) => b.id === i.key));
      if (firstTool >= 0) out.splice(firstTool, 0, final);
      else out.push(final);
    }
    for (const call of toolCallsOf(m))
      out = upsertTool(out, call.id!, { name: call.name ?? "tool", args: call.arguments });
    return out;
  }
  if (m.role === "toolResult" && m.toolCallId) {
    return upsertTool(items, m.toolCallId, {
      name: m.toolName ?? "tool",
      output: resultText(m),
      state: m.isError ? "error" : "done",
    });
  }
  if (m.role === "system") {
    if (items.some((i) => i.key === key)) return items;
    return [...items, { kind: "notice", key, text: textOf(m.content), tone: "info" }];
  }
  return items;
}

export function upsertTool(
  items: ChatItem[],
  id: string,
  patch: Partial<Extract<ChatItem, { kind: "tool" }>>,
): ChatItem[] {
  const at = items.findIndex((i) => i.kind === "tool" && i.key === id);
  if (at < 0)
    return [
      ...items,
      { kind: "tool", key: id, name: "tool", args: undefined, output: "", state: "pending", ...patch },
    ];
  const old = items[at] as Extract<ChatItem, { kind: "tool" }>;
  // A finished card keeps its final state when a late partial update or the call block comes in.
  const done = old.state === "done" || old.state === "error";
  const next = {
    ...old,
    ...patch,
    ...(done && patch.state && patch.state !== "done" && patch.state !== "error" ? { state: old.state } : {}),
    ...(patch.args === undefined ? { args: old.args } : {}),
    ...(done && patch.output !== undefined && patch.state === undefined ? { output: old.output } : {}),
  };
  const out = items.slice();
  out[at] = next;
  return out;
}

/** An answer's words on a tool card: "Allowed once", "Denied", … */
export function label(decision: string): string {
  const names: Record<string, string> = {
    allow_once: "Allowed once",
    allow_turn: "Allowed for this turn",
    allow_session: "Allowed for this session",
    allow_always: "Always allowed",
    deny_once: "Denied",
    deny_always: "Always denied",
    expired: "Expired",
    cancelled: "Cancelled",
  };
  return names[decision] ?? decision;
}

/** The card's note for an answered request, live (permission_resolved) and after a reload alike. */
export function answerNote(decision: string, by: string): string {
  return `${label(decision)} by ${by}`;
}

/**
 * The note for a call as get_messages' `decisions` records it: the answer and who gave it, or the
 * rule that decided without asking. Calls the built-in policy or profile let through say nothing
 * (most reads), as they say nothing live.
 */
export function decisionNote(d: ToolCallDecision): string | undefined {
  if (d.outcome !== "policy") return answerNote(d.outcome, d.by);
  if (d.layer === "rule" && d.reason) return `${d.decision === "allow" ? "Allowed" : "Denied"}: ${d.reason}`;
  return undefined;
}

/** The history from get_messages, with each tool call's recorded decision on its card. */
export function itemsFromMessages(
  messages: PiMessage[],
  decisions: Record<string, ToolCallDecision> = {},
): ChatItem[] {
  let items: ChatItem[] = [];
  messages.forEach((m, i) => (items = applyMessage(items, m, `history:${i}`)));
  return withDecisions(items, decisions);
}

/** Puts recorded decisions on the cards they belong to (cards with a note keep theirs). */
export function withDecisions(items: ChatItem[], decisions: Record<string, ToolCallDecision>): ChatItem[] {
  let changed = false;
  const out = items.map((i) => {
    const d = i.kind === "tool" && !i.note ? decisions[i.key] : undefined;
    const note = d && decisionNote(d);
    if (!note) return i;
    changed = true;
    return { ...i, note };
  });
  return changed ? out : items;
}

/** A streamed piece of the assistant message being written. */
export function applyDelta(
  items: ChatItem[],
  piece: { type: string; contentIndex?: number; delta?: string; toolCallId?: string; toolName?: string },
): ChatItem[] {
  if (piece.type === "toolcall_start" && piece.toolCallId)
    return upsertTool(items, piece.toolCallId, { name: piece.toolName ?? "tool" });
  if (piece.type !== "text_delta" && piece.type !== "thinking_delta") return items;
  const at = items.findIndex((i) => i.kind === "assistant" && i.streaming);
  const kind = piece.type === "text_delta" ? "text" : "thinking";
  const out = items.slice();
  const current =
    at >= 0
      ? (out[at] as Extract<ChatItem, { kind: "assistant" }>)
      : { kind: "assistant" as const, key: `live:${items.length}`, blocks: [], streaming: true };
  const blocks = current.blocks.slice();
  // Blocks are appended in order; contentIndex only tells a new block from the one being written.
  const last = blocks[blocks.length - 1];
  const idx = piece.contentIndex ?? 0;
  const lastIdx = (current as { lastIndex?: number }).lastIndex;
  if (last && last.kind === kind && lastIdx === idx)
    blocks[blocks.length - 1] = { kind, text: last.text + (piece.delta ?? "") };
  else blocks.push({ kind, text: piece.delta ?? "" });
  const next = { ...current, blocks, lastIndex: idx };
  if (at >= 0) out[at] = next;
  else out.push(next);
  return out;
}

export function startAssistant(items: ChatItem[]): ChatItem[] {
  if (items.some((i) => i.kind === "assistant" && i.streaming)) return items;
  return [...items, { kind: "assistant", key: `live:${items.length}`, blocks: [], streaming: true }];
}

/**
 * The assistant message still being written (get_messages' `streaming`) as the live item deltas then
 * extend: its blocks keep pi's content order, and the last one is the block the next delta writes to.
 */
export function withStreaming(items: ChatItem[], m: PiMessage): ChatItem[] {
  const content = Array.isArray(m.content) ? m.content : [];
  const blocks: TextBlock[] = [];
  let lastIndex: number | undefined;
  content.forEach((b, i) => {
    if (b.type !== "text" && b.type !== "thinking") return;
    blocks.push({ kind: b.type, text: (b.type === "text" ? b.text : b.thinking) ?? "" });
    lastIndex = i;
  });
  let out = items.filter((i) => !(i.kind === "assistant" && i.streaming));
  out = [
    ...out,
    {
      kind: "assistant",
      key: `live:${out.length}`,
      blocks,
      streaming: true,
      ...(lastIndex !== undefined && { lastIndex }),
    },
  ];
  for (const call of toolCallsOf(m))
    out = upsertTool(out, call.id!, { name: call.name ?? "tool", args: call.arguments });
  return out;
}
