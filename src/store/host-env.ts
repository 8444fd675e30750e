import { readFileSync } from "node:fs";

/** The user's login-shell environment for the agent's tools, captured by `pi-server env init`. */
export interface HostEnv {
  shell: string;
  capturedAt: number;
  PATH: string;
  vars: Record<string, string>;
}

export function readHostEnv(file: string): HostEnv | undefined {
  try {
    const data = JSON.parse(readFileSync(file, "utf8")) as Partial<HostEnv>;
    if (typeof data.PATH !== "string" || typeof data.vars !== "object" || data.vars === null)
      return undefined;
    return data as HostEnv;
  } catch {
    return undefined;
  }
}
