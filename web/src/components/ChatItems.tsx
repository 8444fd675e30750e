import { memo } from "preact/compat";
import { useMemo } from "preact/hooks";
import type { ChatItem } from "../chat-items.js";
import { cachedMarkdown, highlighting, isCached, renderMarkdown } from "../markdown.js";

const LONG_OUTPUT = 1200;

function Markdown({ text, streaming }: { text: string; streaming: boolean }) {
  // Read here, so the message renders again (with its code highlighted) when the highlighter loads.
  const highlighted = highlighting.value;
  // A streaming message changes with every delta: caching each prefix would only evict the rest.
  const html = useMemo(
    () => (streaming ? renderMarkdown(text) : cachedMarkdown(text)),
    [text, streaming, highlighted],
  );
  return <div class="md" dangerouslySetInnerHTML={{ __html: html }} />;
}

/** Renders a finished message's markdown into the cache ahead of its being shown (VirtualLog's idle time). */
export function prepareItem(item: ChatItem): void {
  if (item.kind !== "assistant" || item.streaming) return;
  for (const b of item.blocks) if (b.kind === "text" && !isCached(b.text)) cachedMarkdown(b.text);
}

function argsSummary(name: string, args: unknown): { title: string; body?: string } {
  const a = (args ?? {}) as Record<string, unknown>;
  if (name === "bash" && typeof a.command === "string") return { title: "bash", body: a.command };
  if ((name === "write" || name === "edit" || name === "read") && typeof a.path === "string")
    return { title: `${name} ${a.path}` };
  return { title: name, body: args === undefined ? undefined : JSON.stringify(args, null, 2) };
}

function EditPreview({ args }: { args: unknown }) {
  const a = (args ?? {}) as Record<string, unknown>;
  if (typeof a.content === "string") return <Output text={a.content} label="Content" />;
  const edits = Array.isArray(a.edits) ? (a.edits as { oldText?: string; newText?: string }[]) : [];
  if (typeof a.oldText === "string") edits.push({ oldText: a.oldText, newText: String(a.newText ?? "") });
  if (edits.length === 0) return null;
  return (
    <div class="edits">
      {edits.map((e, i) => (
        <pre key={i} class="diff">
          {(e.oldText ?? "").split("\n").map((l, j) => (
            <span key={`o${j}`} class="del">{`- ${l}\n`}</span>
          ))}
          {(e.newText ?? "").split("\n").map((l, j) => (
            <span key={`n${j}`} class="add">{`+ ${l}\n`}</span>
          ))}
        </pre>
      ))}
    </div>
  );
}

function Output({ text, label }: { text: string; label: string }) {
  if (!text) return null;
  // A command's output keeps its lines (an `ls -la` row is not wrapped mid-line) and scrolls sideways,
  // so it is focusable for the keyboard; a denial's reason is prose and wraps.
  const cls = label === "Why" ? "output" : "output keep-lines";
  if (text.length <= LONG_OUTPUT && text.split("\n").length <= 20)
    return (
      <pre class={cls} aria-label={label} tabIndex={label === "Why" ? undefined : 0}>
        {text}
      </pre>
    );
  // Long output is collapsed: the tail is what usually matters (the error, the summary line).
  return (
    <details class="long">
      <summary>
        {label}: {text.split("\n").length} lines — show all
      </summary>
      <pre class={cls} aria-label={label} tabIndex={label === "Why" ? undefined : 0}>
        {text}
      </pre>
    </details>
  );
}

const STATE_TEXT = { pending: "preparing", running: "running", done: "done", error: "failed" } as const;

/**
 * A call the gate stopped ends as an error result too; its text (the server's, docs/policy.md) tells
 * a denial or a call that never ran from a tool that failed.
 */
function stateText(item: Extract<ChatItem, { kind: "tool" }>): string {
  if (item.state !== "error") return STATE_TEXT[item.state];
  const out = item.output.trimStart();
  if (/^(Blocked\b|The user \(.*?\) denied this tool call)/.test(out)) return "denied";
  if (
    /^(Not run:|Nobody answered the permission request|The permission request was cancelled|The turn was aborted; the tool call did not run)/.test(
      out,
    )
  )
    return "not run";
  return STATE_TEXT.error;
}

function ToolCard({ item }: { item: Extract<ChatItem, { kind: "tool" }> }) {
  const { title, body } = argsSummary(item.name, item.args);
  const state = stateText(item);
  return (
    <article class={`tool tool-${item.state}`} aria-label={`Tool call ${title}`} data-tool={item.name}>
      <header>
        <code class="tool-title">{title}</code>
        <span class={`tool-state ts-${item.state}`}>{state}</span>
      </header>
      {body ? <pre class="command">{body}</pre> : null}
      {item.name === "write" || item.name === "edit" ? <EditPreview args={item.args} /> : null}
      <Output
        text={item.output}
        label={
          state === "denied" || state === "not run" ? "Why" : item.state === "error" ? "Error" : "Output"
        }
      />
      {item.note ? <p class="tool-note">{item.note}</p> : null}
    </article>
  );
}

export const ChatItemView = memo(function ChatItemView({ item }: { item: ChatItem }) {
  switch (item.kind) {
    case "user":
      return (
        <article class="msg user" aria-label="You">
          <p class="user-text">{item.text}</p>
          {item.images > 0 ? <p class="muted">{item.images} image(s) attached</p> : null}
        </article>
      );
    case "assistant": {
      if (item.blocks.length === 0 && !item.error && !item.aborted && !item.streaming) return null;
      return (
        <article class="msg assistant" aria-label="Agent" aria-busy={item.streaming}>
          {item.blocks.map((b, i) =>
            b.kind === "thinking" ? (
              <details key={i} class="thinking">
                <summary>Thinking</summary>
                <p>{b.text}</p>
              </details>
            ) : (
              <Markdown key={i} text={b.text} streaming={item.streaming} />
            ),
          )}
          {item.streaming && item.blocks.length === 0 ? <p class="muted typing">Working…</p> : null}
          {item.aborted ? <p class="muted">Stopped.</p> : null}
          {item.error ? (
            <p class="error" role="alert">
              {item.error}
            </p>
          ) : null}
        </article>
      );
    }
    case "tool":
      return <ToolCard item={item} />;
    case "notice":
      return (
        <p
          class={item.tone === "error" ? "error notice" : "muted notice"}
          role={item.tone === "error" ? "alert" : undefined}
        >
          {item.text}
        </p>
      );
  }
});
