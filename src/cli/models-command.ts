import type { Command } from "commander";
import { print } from "./context.js";
import { connOpts, withServer, type ConnOptions } from "./session-commands.js";
import { escapeControl } from "./terminal.js";

/** The models a session can use, as the running server sees them (the demo model included). */
export function registerModelsCommand(program: Command): void {
  connOpts(
    program
      .command("models")
      .description(
        "the models sessions can use now (a key or models.json entry each), the default marked with *",
      ),
  ).action((o: ConnOptions) =>
    withServer(o, async (c) => {
      const [{ models, modelsError }, { defaultModel }] = await Promise.all([
        c.request("get_available_models", {}),
        c.request("get_default_model", {}),
      ]);
      if (o.json) return print(JSON.stringify({ models, modelsError, defaultModel }, null, 2));
      const key = (m: { provider: string; id: string }): string => `${m.provider}/${m.id}`;
      const def = defaultModel ? key(defaultModel) : undefined;
      if (models.length === 0)
        print(
          "no usable model: add a provider key to <data-dir>/.env or a server to models.json (`pi-server init`)",
        );
      const width = Math.max(0, ...models.map((m) => key(m).length));
      for (const m of models) {
        const k = key(m);
        print(
          `${k === def ? "*" : " "} ${escapeControl(k.padEnd(width))}  ${escapeControl(m.name)}`.trimEnd(),
        );
      }
      if (modelsError) print(`models.json was not loaded: ${escapeControl(modelsError)}`);
      if (models.length > 0)
        print(
          def
            ? "(* marks the default for new sessions; `pi-server config set defaultModel <provider/id>` changes it)"
            : "no default model: `pi-server config set defaultModel <provider/id>` sets one",
        );
    }),
  );
}
