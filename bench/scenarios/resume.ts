import { dist, now } from "../lib/common.js";
import { connect, streamTurn } from "../lib/fleet.js";
import type { ServerProc } from "../lib/server-proc.js";

export interface ResumeRow {
  missed: number;
  /** session.attach {sinceSeq} sent to the last replayed event received, ms (median of the reps). */
  ms: number;
  replayed: number;
  verdict: string;
}

/**
 * One session streams more events than the largest replay asked for; then a new connection attaches
 * with a sinceSeq that far back, as a phone does after a dropped connection.
 */
export async function measureResume(
  server: ServerProc,
  missed: number[],
  reps: number,
): Promise<ResumeRow[]> {
  const most = Math.max(...missed);
  const owner = await connect(server.url);
  const { session } = await owner.request("session.create", {});
  const rows: ResumeRow[] = [];
  try {
    await streamTurn([{ client: owner, sessionId: session.id }], {
      tokens: most + 100,
      chunkSize: 1,
      delayMs: 0,
    });
    const state = await owner.request("get_state", {}, session.id);
    const last = state.seq;
    for (const n of missed) {
      const times: number[] = [];
      let replayed = 0;
      let verdict = "";
      for (let rep = 0; rep < reps; rep++) {
        const client = await connect(server.url);
        try {
          const allSeen = new Promise<void>((resolve) => {
            client.onEvent((e) => {
              if (e.seq === last) resolve();
            });
          });
          const t0 = now();
          const result = await client.request("session.attach", {
            sessionId: session.id,
            sinceSeq: last - n,
          });
          if (result.replay === "ok") await allSeen;
          times.push(now() - t0);
          replayed = result.replayed;
          verdict = result.replay;
        } finally {
          await client.close();
        }
      }
      rows.push({ missed: n, ms: dist(times).p50, replayed, verdict });
    }
  } finally {
    await owner.close();
  }
  return rows;
}
