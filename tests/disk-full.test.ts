import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStorageFull } from "../src/store/storage-errors.js";
import { runTurn, startHarness, type Harness } from "./helpers/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Caps state.db at the pages it has now: the next write that needs a new page fails with SQLITE_FULL. */
function fillDisk(): void {
  const pages = h.server.db.pragma("page_count", { simple: true }) as number;
  h.server.db.pragma(`max_page_count = ${pages}`);
}

function freeDisk(): void {
  h.server.db.pragma("max_page_count = 1073741823");
}

describe("a full disk", () => {
  it("fails the request with a typed internal error, keeps state.db consistent, and service resumes", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", {});
    fillDisk();
    let failure: unknown;
    // Each rule is a new row; within a bounded number of them a new page is needed.
    for (let i = 0; i < 2000 && failure === undefined; i++) {
      await client
        .request("rules.add", {
          tool: "bash",
          match: `echo ${"x".repeat(400)} ${i}`,
          decision: "deny",
          scope: "global",
        })
        .catch((err: unknown) => (failure = err));
    }
    expect(failure).toMatchObject({ code: "internal", message: expect.stringContaining("disk is full") });
    // The server is alive and still answers what needs no new page.
    expect((await client.request("session.list", {})).sessions.map((s) => s.id)).toContain(session.id);
    // A turn while full: events flow, nothing throws out of the event path.
    await runTurn(h, client, session.id, "hello", { kind: "text", text: "still here" });
    expect(h.server.db.pragma("integrity_check", { simple: true })).toBe("ok");

    freeDisk();
    const { rule } = await client.request("rules.add", {
      tool: "bash",
      match: "ls",
      decision: "allow",
      scope: "global",
    });
    expect(rule.match).toBe("ls");
    await runTurn(h, client, session.id, "again", { kind: "text", text: "fine" });
    expect(h.server.db.pragma("integrity_check", { simple: true })).toBe("ok");
    await client.close();
  }, 120_000);

  it("is recognised from SQLite's and the file system's codes", () => {
    for (const code of ["SQLITE_FULL", "SQLITE_IOERR", "SQLITE_IOERR_WRITE", "ENOSPC", "EDQUOT"])
      expect(isStorageFull(Object.assign(new Error("x"), { code }))).toBe(true);
    for (const value of [new Error("x"), { code: "SQLITE_BUSY" }, null, "ENOSPC"])
      expect(isStorageFull(value)).toBe(false);
  });
});
