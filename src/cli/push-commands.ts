import type { Command } from "commander";
import type { ResultOf } from "../protocol/methods.js";
import { connectOwner, type OwnerConnection } from "./owner-client.js";
import { CliError, cliPaths, DATA_DIR_OPTION, print } from "./context.js";

interface Options extends OwnerConnection {
  dataDir?: string;
  json?: boolean;
}

const CHANNEL_NAMES = { webpush: "Web Push", apns: "APNs" } as const;

function report(r: ResultOf<"push.test">): void {
  for (const c of r.channels) {
    const failed = c.devices - c.delivered;
    print(
      `${CHANNEL_NAMES[c.channel]}: ${c.delivered} of ${c.devices} device${c.devices === 1 ? "" : "s"} reached` +
        (failed > 0 ? ` (${failed} failed; see the server log)` : ""),
    );
  }
  if (r.channels.every((c) => c.devices === 0))
    print("no device is registered: subscribe from the web app's settings or register the iOS app");
}

/** `pi-server push test`: a notification to every registered device, to check the whole path. */
export function registerPushCommands(program: Command): void {
  const push = program.command("push").description("push notifications to your devices (see docs/push.md)");
  push
    .command("test")
    .description("send a test notification to every registered device and say how many it reached")
    .option("--json", "print JSON")
    .option("--url <url>", "server URL (default: the server running on the data dir)")
    .option("--token <token>", "owner token (env PI_SERVER_TOKEN)")
    .option(...DATA_DIR_OPTION)
    .action(async (o: Options) => {
      const client = await connectOwner(cliPaths(o.dataDir), o, "pi-server push test");
      try {
        const r = await client.request("push.test", {});
        if (o.json) print(JSON.stringify(r, null, 2));
        else report(r);
      } catch (err) {
        throw new CliError(err instanceof Error ? err.message : String(err));
      } finally {
        await client.close().catch(() => undefined);
      }
    });
}
