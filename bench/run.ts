/**
 * npm run bench [-- --json] [-- --quick] [-- --cpu-prof <dir>] [-- --search <sessions>]
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
    /** Only the sessions.search figures (in-process, no server): --search 10000 */
    search: { type: "string" },
  },
});

if (values.search !== undefined) {
  const { measureSearch } = await import("./scenarios/search.js");
  const r = measureSearch(Number(values.search));
  process.stdout.write(
    values.json
      ? `${JSON.stringify(r, null, 2)}\n`
      : [
          `${r.sessions} sessions, ${r.messages} messages: filled in ${r.fillSeconds.toFixed(1)} s, ${r.dbMiB.toFixed(1)} MiB`,
          ...r.queries.map(
            (q) =>
              `${q.kind} (${q.query}, ${q.hits} hits): p50 ${q.ms.p50.toFixed(2)} ms, p99 ${q.ms.p99.toFixed(2)} ms`,
          ),
        ].join("\n") + "\n",
  );
  process.exit(0);
}

const m = machine();
process.stderr.write(`pi-server bench on ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}\n`);
const started = Date.now();
const results = await runBench(values.quick ? QUICK : FULL, {
  log: (line) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`),
  serverNodeArgs: values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${values["cpu-prof"]}`] : [],
});
process.stdout.write(values.json ? `${json(results)}\n` : markdown(results));
