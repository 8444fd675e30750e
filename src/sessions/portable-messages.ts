/**
 * get_messages' default form. pi's history can hold things a client that knows only the common
 * vocabulary fails on as a whole (the Pi Mobile app rejects the entire history for one unknown role
 * or block type): image blocks, and pi's own roles (bashExecution, custom, branchSummary,
 * compactionSummary). Here every message has role user | assistant | toolResult | system, and every
 * content block type text | thinking | toolCall. Nothing is dropped silently: an image becomes a text
 * block naming it, and a pi-specific message becomes a system message with its text and its original
 * role in `piRole`. `raw: true` gives pi's messages untouched.
 */

const ROLES = new Set(["user", "assistant", "toolResult"]);
const BLOCKS = new Set(["text", "thinking", "toolCall"]);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function placeholder(block: Obj): Obj {
  if (block.type === "image") {
    const mime = typeof block.mimeType === "string" ? block.mimeType : "image";
    const size =
      typeof block.data === "string" ? ` ${Math.round((block.data.length * 3) / 4 / 1024)} KiB` : "";
    return { type: "text", text: `[image: ${mime}${size}]` };
  }
  return { type: "text", text: `[${typeof block.type === "string" ? block.type : "unknown"} block]` };
}

function portableContent(content: unknown): unknown {
  if (!Array.isArray(content)) return content;
  return content.map((b) =>
    isObj(b) && typeof b.type === "string" && BLOCKS.has(b.type) ? b : placeholder(isObj(b) ? b : {}),
  );
}

/** The readable text of one of pi's own message kinds. */
function piMessageText(m: Obj): string {
  switch (m.role) {
    case "bashExecution":
      return `$ ${String(m.command ?? "")}\n${String(m.output ?? "")}`;
    case "branchSummary":
    case "compactionSummary":
      return String(m.summary ?? "");
    default: {
      const content = m.content;
      if (typeof content === "string") return content;
      if (Array.isArray(content))
        return content
          .map((b) =>
            isObj(b) && typeof b.text === "string" ? b.text : isObj(b) ? String(placeholder(b).text) : "",
          )
          .join("");
      return "";
    }
  }
}

export function portableMessage(message: unknown): unknown {
  if (!isObj(message)) return { role: "system", content: [{ type: "text", text: "" }], piRole: "unknown" };
  if (typeof message.role === "string" && ROLES.has(message.role)) {
    return { ...message, content: portableContent(message.content) };
  }
  return {
    role: "system",
    piRole: typeof message.role === "string" ? message.role : "unknown",
    content: [{ type: "text", text: piMessageText(message) }],
    ...(message.timestamp !== undefined && { timestamp: message.timestamp }),
  };
}
