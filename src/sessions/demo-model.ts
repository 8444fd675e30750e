import type {
  Api,
  AssistantMessage,
  AssistantMessageEventStream,
  Context,
  FauxProviderRegistration,
  FauxResponseStep,
  Model,
  SimpleStreamOptions,
} from "@mariozechner/pi-ai";
import type * as PiAiModule from "@mariozechner/pi-ai";
import type { PiRuntime } from "./pi.js";

/** The text of a tool result's content blocks. */
function resultText(content: unknown): string {
  if (!Array.isArray(content)) return "";
  return content
    .map((c: { type?: string; text?: string }) => (c.type === "text" ? (c.text ?? "") : ""))
    .join("");
}

/**
 * `pi-server serve --demo`: an offline, scripted model, so that a first run shows the whole server
 * (streaming, thinking, real tools in the sandbox, a permission question) with no API key and no
 * network. It is not an LLM and says so. Its answers are computed from the conversation alone, so
 * any number of sessions can use it at once.
 */

export const DEMO_PROVIDER = "demo";
export const DEMO_MODEL_ID = "pi-demo";
export const DEMO_MODEL = `${DEMO_PROVIDER}/${DEMO_MODEL_ID}`;
const DEMO_API = "pi-server-demo";
const DEMO_NAME = "pi demo (offline script, not an LLM)";
/** The file the script writes: a new file, which the default policy asks about. */
export const DEMO_WRITE_PATH = "pi-demo-notes.md";

/** Slow enough to watch the text arrive, fast enough for a demo turn to take a few seconds. */
const TOKENS_PER_SECOND = 120;

function textOf(message: Context["messages"][number] | undefined): string {
  if (!message || message.role !== "user") return "";
  if (typeof message.content === "string") return message.content;
  return message.content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

function short(text: string, max = 200): string {
  const one = text.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

type PiAi = typeof PiAiModule;

/** The script: the step is told by how many tool results follow the latest user message. */
export function demoResponse(ai: PiAi, context: Context): AssistantMessage {
  const { fauxAssistantMessage, fauxText, fauxThinking, fauxToolCall } = ai;
  const messages = context.messages;
  let u = messages.length - 1;
  while (u >= 0 && messages[u]?.role !== "user") u--;
  const prompt = short(textOf(messages[u])) || "(an empty message)";
  const results = messages.slice(u + 1).flatMap((m) => (m.role === "toolResult" ? [m] : []));
  const tool = { stopReason: "toolUse" as const };
  switch (results.length) {
    case 0:
      return fauxAssistantMessage(
        [
          fauxThinking(
            `The user wrote "${prompt}". I am the demo script, so I do what I always do: read README.md, list the files, write a note, then sum up.`,
          ),
          fauxText(
            `You said: "${prompt}"\n\nI am **pi demo**, an offline script that stands in for a model: no LLM, no API key, no network. Whatever you ask, I show you the server at work with real tools in this session's sandbox. First, the README:`,
          ),
          fauxToolCall("read", { path: "README.md" }),
        ],
        tool,
      );
    case 1:
      return fauxAssistantMessage(
        [
          fauxThinking("Read it. Next, a shell command that only looks around."),
          fauxText(
            "Now a shell command, `ls -la`, in the sandbox (it sees this worktree and nothing of your home):",
          ),
          fauxToolCall("bash", { command: "ls -la" }),
        ],
        tool,
      );
    case 2:
      return fauxAssistantMessage(
        [
          fauxThinking(
            "Next a write. The policy asks before a new file appears, so the user gets a question.",
          ),
          fauxText(
            `Finally I write \`${DEMO_WRITE_PATH}\`. The default policy asks before the agent writes a file: allow or deny it on your device.`,
          ),
          fauxToolCall("write", {
            path: DEMO_WRITE_PATH,
            content: `# Notes from pi demo\n\nYou asked: ${prompt}\n\nThis file was written by the offline demo script.\n`,
          }),
        ],
        tool,
      );
    default: {
      const last = results[results.length - 1];
      const written = last?.isError === false;
      // The gate's text says who denied it and what they said: the summary shows it was read.
      const said = /\nThe user says: ([^]*)$/.exec(resultText(last?.content))?.[1]?.trim();
      return fauxAssistantMessage([
        fauxThinking("All steps done; time to sum up."),
        fauxText(
          [
            "Done. What happened:",
            "",
            "1. `read` loaded README.md through the sandbox.",
            "2. `bash` ran `ls -la` in the sandbox (no network, no view of the server's data).",
            written
              ? `3. \`write\` created \`${DEMO_WRITE_PATH}\` after you allowed it; after this turn the server moves the session's commits to branch \`pi/<session>\` of the repo.`
              : said
                ? `3. \`write\` did not happen: you denied it, saying "${said}". I read that and left the file alone.`
                : `3. \`write\` did not happen: the request was denied (or nobody could answer it).`,
            "",
            "To work with a real model, run `pi-server init` (it stores a provider key and picks the default model), or put a key in the data dir's `.env` and run `pi-server config set defaultModel <provider/id>`; `pi-server models` lists the usable ones.",
          ].join("\n"),
        ),
      ]);
    }
  }
}

let registration: FauxProviderRegistration | undefined;
type StreamSimple = (
  model: Model<Api>,
  context: Context,
  options?: SimpleStreamOptions,
) => AssistantMessageEventStream;
let demoStream: StreamSimple | undefined;

/**
 * pi-ai's API registry is global to the process, and pi's model registry clears it on every
 * refresh and re-registers only the stream functions its providers carry. So the faux provider is
 * made once, its stream function kept, and handed to each server's model registry.
 */
export async function registerDemoModel(pi: PiRuntime): Promise<void> {
  if (!registration || !demoStream) {
    // Loaded here, not at start-up: pi's SDK has loaded it by now (one copy, from the module cache),
    // and the CLI's other commands never need it.
    const ai = await import("@mariozechner/pi-ai");
    const reg = ai.registerFauxProvider({
      api: DEMO_API,
      provider: DEMO_PROVIDER,
      models: [{ id: DEMO_MODEL_ID, name: DEMO_NAME, reasoning: true, input: ["text"] }],
      tokensPerSecond: TOKENS_PER_SECOND,
    });
    // The faux provider answers from a queue, one step per call, taken when the call starts: a
    // queue kept full of the same context-driven step serves every session and every call.
    const step: FauxResponseStep = (context) => {
      reg.appendResponses([step]);
      return demoResponse(ai, context);
    };
    reg.setResponses(Array.from({ length: 64 }, () => step));
    registration = reg;
    const provider = ai.getApiProvider(DEMO_API);
    if (!provider) throw new Error("the demo model's stream was not registered");
    demoStream = provider.streamSimple;
  }
  pi.modelRegistry.registerProvider(DEMO_PROVIDER, {
    name: "pi-server demo",
    api: DEMO_API,
    streamSimple: demoStream,
    // Never contacted: the faux provider answers in-process.
    baseUrl: "http://127.0.0.1:0",
    apiKey: "no-key-needed",
    models: [
      {
        id: DEMO_MODEL_ID,
        name: DEMO_NAME,
        reasoning: true,
        input: ["text"],
        cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
        contextWindow: 128_000,
        maxTokens: 16_384,
      },
    ],
  });
}
