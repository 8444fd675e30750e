import { run } from "./main.js";

// `pi-server status | head -2`: the reader left; what is left to print has nobody to read it.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

await run(process.argv);
