import { useRef, useState } from "preact/hooks";
import { toBase64 } from "../crypto.js";
import type { SessionStream } from "../session-stream.js";
import { connection, takeDraft } from "../store.js";
import { ErrorText } from "./ErrorText.js";

type Image = {
  type: "image";
  data: string;
  mimeType: "image/png" | "image/jpeg" | "image/gif" | "image/webp";
  name: string;
};
const MIME = ["image/png", "image/jpeg", "image/gif", "image/webp"];

interface SpeechRecognitionLike {
  lang: string;
  interimResults: boolean;
  onresult: ((e: { results: ArrayLike<ArrayLike<{ transcript: string }>> }) => void) | null;
  onend: (() => void) | null;
  start(): void;
  stop(): void;
}
type SpeechCtor = new () => SpeechRecognitionLike;
const Speech = ((globalThis as Record<string, unknown>).SpeechRecognition ??
  (globalThis as Record<string, unknown>).webkitSpeechRecognition) as SpeechCtor | undefined;

let turnCounter = 0;
/** A resend after a dropped connection carries the same id, so the server never runs it twice. */
function turnId(): string {
  return `web-${Date.now().toString(36)}-${(turnCounter++).toString(36)}`;
}

export function Composer({ stream }: { stream: SessionStream }) {
  const [text, setText] = useState(() => takeDraft(stream.sessionId));
  const [images, setImages] = useState<Image[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [listening, setListening] = useState(false);
  const recog = useRef<SpeechRecognitionLike | undefined>();
  const running = stream.status.value === "running";
  const connected = connection.value?.state.value === "connected";

  async function send(kind: "prompt" | "steer" | "follow_up") {
    const conn = connection.value;
    const message = text.trim();
    if (!conn || !message) return;
    setError(undefined);
    const imgs = images.map(({ type, data, mimeType }) => ({ type, data, mimeType }));
    const params = { message, clientTurnId: turnId(), ...(imgs.length ? { images: imgs } : {}) };
    try {
      if (kind === "prompt") await conn.request("prompt", params, stream.sessionId);
      else await conn.request(kind, params, stream.sessionId);
      setText("");
      setImages([]);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function abort() {
    try {
      await connection.value?.request("abort", {}, stream.sessionId);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function attach(files: FileList | null) {
    const picked: Image[] = [];
    for (const f of Array.from(files ?? [])) {
      if (!MIME.includes(f.type)) continue;
      picked.push({
        type: "image",
        data: toBase64(new Uint8Array(await f.arrayBuffer())),
        mimeType: f.type as Image["mimeType"],
        name: f.name,
      });
    }
    setImages((old) => [...old, ...picked].slice(0, 16));
  }

  function toggleMic() {
    if (!Speech) return;
    if (listening) {
      recog.current?.stop();
      return;
    }
    const r = new Speech();
    r.lang = navigator.language;
    r.interimResults = false;
    r.onresult = (e) => {
      const said = Array.from(e.results)
        .map((res) => res[0]?.transcript ?? "")
        .join(" ");
      setText((t) => (t ? `${t} ${said}` : said));
    };
    r.onend = () => setListening(false);
    recog.current = r;
    setListening(true);
    r.start();
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send(running ? "steer" : "prompt");
      }}
    >
      {images.length > 0 ? (
        <ul class="attachments" aria-label="Attached images">
          {images.map((img, i) => (
            <li key={i}>
              {img.name}{" "}
              <button type="button" class="link" onClick={() => setImages(images.filter((_, j) => j !== i))}>
                Remove <span class="sr-only">{img.name}</span>
              </button>
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorText error={error} />
      <label for="composer-text" class="sr-only">
        Message
      </label>
      <textarea
        id="composer-text"
        rows={2}
        placeholder={running ? "Steer the agent, or queue a follow-up" : "Ask the agent"}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) {
            e.preventDefault();
            void send(running ? "steer" : "prompt");
          }
        }}
      />
      <div class="composer-actions">
        <label class="button icon" title="Attach images">
          <input
            type="file"
            accept={MIME.join(",")}
            multiple
            class="sr-only"
            onChange={(e) => void attach(e.currentTarget.files)}
          />
          <svg aria-hidden="true" width="20" height="20" viewBox="0 0 20 20">
            <path d="M9 3h2v6h6v2h-6v6H9v-6H3V9h6z" fill="currentColor" />
          </svg>
          <span class="sr-only">Attach images</span>
        </label>
        {Speech ? (
          <button type="button" class="icon" aria-pressed={listening} onClick={toggleMic}>
            <svg aria-hidden="true" width="20" height="20" viewBox="0 0 20 20">
              <rect x="7" y="2" width="6" height="10" rx="3" fill="currentColor" />
              <path d="M4 9a6 6 0 0 0 12 0M10 15v3" stroke="currentColor" stroke-width="2" fill="none" />
            </svg>
            <span class="sr-only">{listening ? "Stop dictation" : "Dictate"}</span>
          </button>
        ) : null}
        <span class="spacer" />
        {running ? (
          <>
            <button type="button" class="danger" onClick={() => void abort()}>
              Stop
            </button>
            <button
              type="button"
              disabled={!connected || !text.trim()}
              onClick={() => void send("follow_up")}
            >
              Follow up
            </button>
            <button type="submit" class="primary" disabled={!connected || !text.trim()}>
              Steer
            </button>
          </>
        ) : (
          <button type="submit" class="primary" disabled={!connected || !text.trim()}>
            Send
          </button>
        )}
      </div>
    </form>
  );
}
