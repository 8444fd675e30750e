import { writeFileSync } from "node:fs";
import { buildProtocolSchema } from "../src/protocol/json-schema.js";

const out = new URL("../docs/protocol.schema.json", import.meta.url);
writeFileSync(out, JSON.stringify(buildProtocolSchema(), null, 2) + "\n");
process.stdout.write(`wrote ${out.pathname}\n`);
