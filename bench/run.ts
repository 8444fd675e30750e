/**
 * npm run bench [-- --json] [-- --quick] [-- --cpu-prof <dir>]
 *
 * Measures what the relay costs against the raw pi SDK on the same machine in the same run. Progress
 * goes to stderr; the markdown table (or, with --json, the JSON) to stdout.
 */
import { parseArgs } from "node:util";
import { FULL, QUICK, runBench } from "./bench.js";
import { machine } from "./lib/common.js";
import { json, markdown } from "./report.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
  },
});

const m = machine();
process.stderr.write(`pi-server bench on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}\n`);
const started = Date.now();
const results = await runBench(values.quick ? QUICK : FULL, {
  log: (line) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`),
  serverNodeArgs: values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : [],
});
process.stdout.write(values.json ? `${json(results)}\n` : markdown(results));
