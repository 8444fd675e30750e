/**
 * The server the web benchmark measures: the built `bin/pi-server.js` on 127.0.0.1, port 0, with
 * the fake LLM as its model, a demo repository, a short session, and a session whose pi history
 * holds 2,000 messages written with pi's own SessionManager.
 */
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PiClient } from "../../src/client/client.js";
import { loadIdentity } from "../../src/pairing/identity.js";
import { inviteLinks, PairingService } from "../../src/pairing/pairing.js";
import { openDb } from "../../src/store/db.js";
import { PairingTokens } from "../../src/store/pairing-tokens.js";
import { TokenStore } from "../../src/store/tokens.js";
import { startFakeLlm, type FakeLlm } from "../../tests/helpers/fake-llm.js";
import { makeRepo } from "../../tests/helpers/harness.js";
import { LONG_ANSWER, writeLongHistory } from "../../tests/helpers/long-session.js";
import { makeDataDir, spawnServer, TOKEN, type ServerProc } from "../lib/server-proc.js";

export interface WebBenchServer {
  url: string;
  port: number;
  /** A session with one short exchange (markdown and a code block). */
  shortId: string;
  /** A session with `longCount` messages of history. */
  longId: string;
  longCount: number;
  /** A fresh single-use invite link for the app (`/app/#pair=…`). */
  invite(): string;
  close(): Promise<void>;
}

async function turn(client: PiClient, llm: FakeLlm, sessionId: string, message: string, text: string) {
  llm.enqueue({ kind: "text", text, chunkSize: 40 });
  const ended = client.waitForEvent(sessionId, "agent_end");
  await client.request("prompt", { message }, sessionId);
  await ended;
}

export async function startWebBenchServer(longCount = 2000): Promise<WebBenchServer> {
  const llm = await startFakeLlm();
  const repo = makeRepo({ "README.md": "# demo\n", "src/index.ts": "export const x = 1;\n" });
  const dataDir = makeDataDir(llm);
  writeFileSync(
    join(dataDir, "repos.json"),
    JSON.stringify({ repos: [{ id: "demo", name: "demo", path: repo }] }),
  );

  let server: ServerProc = await spawnServer(dataDir, { removeDataDir: false });
  let client = await PiClient.connect(server.url, { token: TOKEN });
  const shortId = (await client.request("session.create", { repoId: "demo", name: "parser fixes" }))
    .sessionId;
  await turn(client, llm, shortId, "What does tokenize do?", LONG_ANSWER(1));
  const longId = (await client.request("session.create", { repoId: "demo", name: "long session" })).sessionId;
  await turn(client, llm, longId, "Start", "Starting.");
  const state = await client.request("get_state", {}, longId);
  const { messages } = await client.request("get_messages", { raw: true }, longId);
  const last = messages[messages.length - 1] as Record<string, unknown>;
  const template = { api: last.api, provider: last.provider, model: last.model, usage: last.usage };
  await client.close();
  // The history is written while no server holds the session, as pi itself would have left it.
  await server.stop();
  writeLongHistory(state.sessionFile!, Math.ceil((longCount - 2) / 4), template);

  server = await spawnServer(dataDir, { removeDataDir: false });
  client = await PiClient.connect(server.url, { token: TOKEN });
  const { total } = await client.request("get_messages", { limit: 1 }, longId);
  await client.close();
  const port = Number(new URL(server.url).port);

  return {
    url: server.url,
    port,
    shortId,
    longId,
    longCount: total,
    invite() {
      const db = openDb(join(dataDir, "state.db"));
      try {
        const identity = loadIdentity(join(dataDir, "identity"));
        const signed = new PairingService(identity, new PairingTokens(db), new TokenStore(db)).createInvite({
          hosts: ["127.0.0.1"],
          port,
          scheme: "http",
          ttlMs: 10 * 60_000,
        });
        return inviteLinks(signed).web;
      } finally {
        db.close();
      }
    },
    async close() {
      await server.stop();
      await llm.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(repo, { recursive: true, force: true });
    },
  };
}
