import { readFileSync } from "node:fs";
import dotenv from "dotenv";

/** The variable pi reads a built-in provider's key from (the first one where pi knows several). */
export const PROVIDER_KEY_VARS: Record<string, string> = {
  anthropic: "ANTHROPIC_API_KEY",
  openai: "OPENAI_API_KEY",
  google: "GEMINI_API_KEY",
  openrouter: "OPENROUTER_API_KEY",
  groq: "GROQ_API_KEY",
  xai: "XAI_API_KEY",
  mistral: "MISTRAL_API_KEY",
  deepseek: "DEEPSEEK_API_KEY",
  cerebras: "CEREBRAS_API_KEY",
  fireworks: "FIREWORKS_API_KEY",
  huggingface: "HF_TOKEN",
  "github-copilot": "GITHUB_TOKEN",
};

function readEnvFile(file: string): Record<string, string> {
  try {
    return dotenv.parse(readFileSync(file));
  } catch {
    return {};
  }
}

/**
 * Keeps the server's environment in step with the data dir's .env, where pi looks for provider
 * keys, so a key added (or changed, or removed) there applies to the next request without a
 * restart. A variable the server was started with wins over .env, as it does at start-up: only
 * values this object set are ever changed or removed.
 */
export class ProviderEnv {
  private readonly applied = new Map<string, string>();

  constructor(
    readonly file: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  sync(): void {
    const wanted = readEnvFile(this.file);
    for (const [name, value] of Object.entries(wanted)) {
      const current = this.env[name];
      if (current === undefined || current === this.applied.get(name)) {
        this.env[name] = value;
        this.applied.set(name, value);
      }
    }
    for (const [name, value] of this.applied) {
      if (Object.hasOwn(wanted, name)) continue;
      if (this.env[name] === value) delete this.env[name];
      this.applied.delete(name);
    }
  }

  /**
   * Why pi finds no key for `provider` although the user may think they gave one: the words for
   * the error a client sees.
   */
  explainMissing(provider: string, authFile: string): string {
    const expected = PROVIDER_KEY_VARS[provider];
    const inFile = readEnvFile(this.file);
    const names = Object.keys(inFile);
    if (expected && Object.hasOwn(inFile, expected)) {
      if (inFile[expected] === "") return `${expected} in ${this.file} is empty`;
      return `${expected} is in ${this.file}, but the server was started with an empty ${expected} in its environment, which wins over .env: unset it where the server is started, then restart it`;
    }
    const similar = names.filter((n) => n.toLowerCase().includes(provider.split("-")[0] ?? provider));
    const where = expected
      ? `put ${expected}=<key> in ${this.file}`
      : `put its API key in ${this.file} (under the variable pi reads for ${provider}) or in models.json`;
    const hint =
      similar.length > 0 ? ` (${this.file} has ${similar.join(", ")}, which pi does not read)` : "";
    return `${where}${hint}, or a key in ${authFile}; it applies to the next request, no restart needed`;
  }
}
