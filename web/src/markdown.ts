/**
 * Model output is untrusted text: it is rendered as markdown and then sanitised, so a reply (or a
 * prompt-injected repository speaking through the model) cannot put script or forms in the app.
 *
 * Fenced code blocks that name a language are syntax-highlighted once the highlighter's chunk
 * (highlight.ts) has loaded; it is fetched in the first idle period after such a block is rendered,
 * so a chat's first screen is not held up by it. Until then they render plain, with the same text in
 * the same box, so the upgrade changes colours, never layout.
 * The highlighter's output goes through the same sanitiser as everything else.
 */
import { signal } from "@preact/signals";
import DOMPurify from "dompurify";
import { Marked } from "marked";

type Highlight = (code: string, language: string) => string | undefined;

let highlighter: Highlight | undefined;
let loading: Promise<void> | undefined;
let scheduled = false;

/** `run` in an idle period (within `timeout` ms), or after a short timeout where there is no requestIdleCallback (Safari). */
function whenIdle(run: () => void, timeout: number): void {
  if (typeof requestIdleCallback === "function") requestIdleCallback(run, { timeout });
  else setTimeout(run, 50);
}

/** True once code blocks are highlighted: components that show markdown read it to render again. */
export const highlighting = signal(false);

/** Fetches the highlighter's chunk once; the markdown rendered before it is rendered again. */
export function loadHighlighter(): Promise<void> {
  loading ??= import("./highlight.js").then(
    (m) => {
      highlighter = m.highlight;
      // What was rendered with a plain code block is rendered again, the rest stays.
      for (const [text, html] of cache)
        if (html.includes('<code class="language-')) {
          cache.delete(text);
          cachedChars -= text.length + html.length;
        }
      // The chunk's evaluation and the messages' new render are two tasks, not one long one.
      whenIdle(() => (highlighting.value = true), 500);
    },
    () => {
      // Offline or a stale build: code stays plain, and the next code block tries again.
      loading = undefined;
    },
  );
  return loading;
}

const escapeAttr = (s: string): string => s.replace(/[^\w+#.-]/g, "");

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
  renderer: {
    code({ text, lang }) {
      const language = (lang ?? "").match(/^\S+/)?.[0]?.toLowerCase();
      if (!language) return false;
      if (!highlighter) {
        if (!scheduled) {
          scheduled = true;
          whenIdle(() => void loadHighlighter().finally(() => (scheduled = false)), 1000);
        }
        return false;
      }
      // As marked's own renderer lays it out, so the plain and the highlighted block are the same box.
      const code = `${text.replace(/\n$/, "")}\n`;
      const html = highlighter(code, language);
      if (html === undefined) return false;
      return `<pre><code class="hljs language-${escapeAttr(language)}">${html}</code></pre>\n`;
    },
  },
});

// Links open outside the app and tell the target nothing about it.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return DOMPurify.sanitize(html, {
    // The CSP forbids inline styles anyway; dropping them keeps the console clean.
    FORBID_ATTR: ["style"],
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
  });
}

/**
 * Rendered HTML of finished messages, least recently used first out: a long session's log mounts a
 * message again each time it scrolls back into view, and parsing and sanitising are the costly part.
 * Bounded by characters (text and HTML), not entries, so a few huge answers cannot hold it all.
 */
const cache = new Map<string, string>();
const CACHE_CHARS = 4_000_000;
let cachedChars = 0;

export function cachedMarkdown(text: string): string {
  let html = cache.get(text);
  if (html !== undefined) {
    cache.delete(text);
    cache.set(text, html);
    return html;
  }
  html = renderMarkdown(text);
  cache.set(text, html);
  cachedChars += text.length + html.length;
  for (const [oldest, old] of cache) {
    if (cachedChars <= CACHE_CHARS || oldest === text) break;
    cache.delete(oldest);
    cachedChars -= oldest.length + old.length;
  }
  return html;
}

/** Whether `text` is in the cache, so preparing it ahead would be wasted. */
export function isCached(text: string): boolean {
  return cache.has(text);
}
