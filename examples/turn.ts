// Run with: TOKEN=<owner token> npx tsx examples/turn.ts (see the README's Quick start, step 4).
// Outside this clone, after `npm install <path to pi-server>`: import from "pi-server/client".
import { PiClient } from "../src/client/client.js";

const token = process.env.TOKEN;
if (!token) {
  console.error("set TOKEN to the owner token the server printed on its first start");
  process.exit(1);
}
const client = await PiClient.connect(process.env.URL ?? "ws://127.0.0.1:3141", { token }).catch(
  (err: Error) => {
    console.error(`could not connect: ${err.message}`);
    process.exit(1);
  },
);
const { session } = await client.request("session.create", { repoId: process.env.REPO ?? "myapp" });
client.onEvent((e) => {
  if (e.type === "message_update" && e.payload.assistantMessageEvent.type === "text_delta")
    process.stdout.write(e.payload.assistantMessageEvent.delta ?? "");
  if (e.type === "tool_execution_start") console.log(`\n[${e.payload.toolName}]`, e.payload.args);
  // Tool calls the policy cannot decide wait for an answer (always so with security.profile "strict").
  if (e.type === "permission_request") {
    console.log(`\nallow? ${e.payload.summary} — answering allow_once`);
    void client.request("permission.respond", { id: e.payload.id, decision: "allow_once" });
  }
});
const done = client.waitForEvent(session.id, "agent_end", () => true, 600_000);
await client.request(
  "prompt",
  { message: process.env.PROMPT ?? "Add a CONTRIBUTING.md and commit it" },
  session.id,
);
await done;
await client.close();
