import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildProtocolSchema } from "../src/protocol/json-schema.js";
import { Methods } from "../src/protocol/methods.js";

describe("published JSON Schema", () => {
  it("docs/protocol.schema.json is what `npm run schema` generates from the TypeBox definitions", () => {
    const onDisk = JSON.parse(
      readFileSync(new URL("../docs/protocol.schema.json", import.meta.url), "utf8"),
    ) as unknown;
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(buildProtocolSchema())));
  });

  it("documents every method in docs/protocol.md", () => {
    const doc = readFileSync(new URL("../docs/protocol.md", import.meta.url), "utf8");
    for (const name of Object.keys(Methods))
      expect([name, doc.includes(`### \`${name}\``)]).toEqual([name, true]);
  });
});
