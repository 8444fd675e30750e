/**
 * The fake LLM on a thread of its own: on the benchmark's main thread, answering a chat request
 * (parsing the whole history, writing thousands of chunks) would stall the clients whose receive
 * times are being measured, and that stall would be counted as the server's latency.
 */
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { startFakeLlm } from "../../tests/helpers/fake-llm.js";
import { benchResponder } from "./workload.js";

export interface LlmThread {
  url: string;
  close(): Promise<void>;
}

export async function startLlmThread(): Promise<LlmThread> {
  // This module again, loaded through tsx's API: a worker inherits no TypeScript loader from vitest,
  // and Node 20 takes no --import in a worker's execArgv.
  const self = JSON.stringify(import.meta.url);
  const worker = new Worker(`import("tsx/esm/api").then(({ tsImport }) => tsImport(${self}, ${self}))`, {
    eval: true,
  });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("message", (m: string) => resolve(m));
    worker.once("error", reject);
  });
  return {
    url,
    async close() {
      worker.postMessage("close");
      await new Promise((resolve) => worker.once("exit", resolve));
    },
  };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const llm = await startFakeLlm();
  llm.setResponder(benchResponder);
  port.on("message", () => {
    void llm.close().then(() => port.close());
  });
  port.postMessage(llm.url);
}
