import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as PiSdk from "@mariozechner/pi-coding-agent";
import { writeFileAtomic } from "../store/atomic.js";
import type { Sdk } from "./pi.js";

/**
 * pi's settings with the project scope switched off. A repository's `.pi/settings.json` can name
 * packages to install and the command that installs them (`npmCommand`): read, that runs a program
 * the repo chose in the server's process environment at session start. The server's own
 * `<data-dir>/settings.json` (the owner's) is the only settings file.
 */
export function serverSettings(sdk: Sdk, agentDir: string): PiSdk.SettingsManager {
  const file = join(agentDir, "settings.json");
  return sdk.SettingsManager.fromStorage({
    withLock(scope, fn) {
      if (scope === "project") {
        fn(undefined);
        return;
      }
      let current: string | undefined;
      try {
        current = readFileSync(file, "utf8");
      } catch {
        current = undefined;
      }
      const next = fn(current);
      if (next !== undefined && next !== current) writeFileAtomic(file, next);
    },
  });
}
