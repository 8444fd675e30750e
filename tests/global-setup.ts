import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Every test process gets a throwaway HOME, so a write to ~/.pi would be seen (and not hit the real one). */
export default function setup(): () => void {
  const home = mkdtempSync(join(tmpdir(), "pi-server-home-"));
  process.env.HOME = home;
  process.env.PI_SERVER_TEST_HOME = home;
  for (const key of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PI_SERVER_TOKEN", "PI_SERVER_DATA_DIR"])
    delete process.env[key];
  return () => rmSync(home, { recursive: true, force: true });
}
