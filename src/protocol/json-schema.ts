import {
  ErrorResponseFrame,
  EventFrame,
  OkResponseFrame,
  PROTOCOL_VERSION,
  RequestFrame,
} from "./envelope.js";
import { ErrorCode } from "./errors.js";
import { EventPayloads } from "./events.js";
import { Methods } from "./methods.js";

/** TypeBox schemas are JSON Schema already; this drops TypeBox's own bookkeeping keys. */
function plain(schema: unknown): unknown {
  return JSON.parse(
    JSON.stringify(schema, (key, value: unknown) => (key.startsWith("~") ? undefined : value)),
  );
}

/** The whole protocol as one JSON Schema document (`npm run schema` writes docs/protocol.schema.json). */
export function buildProtocolSchema(): Record<string, unknown> {
  const methods = Object.fromEntries(
    Object.entries(Methods).map(([name, m]) => [
      name,
      {
        description: m.description,
        sessionScoped: m.scoped,
        params: plain(m.params),
        result: plain(m.result),
      },
    ]),
  );
  const events = Object.fromEntries(Object.entries(EventPayloads).map(([name, s]) => [name, plain(s)]));
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: `pi-server protocol v${PROTOCOL_VERSION}`,
    $defs: {
      RequestFrame: plain(RequestFrame),
      OkResponseFrame: plain(OkResponseFrame),
      ErrorResponseFrame: plain(ErrorResponseFrame),
      EventFrame: plain(EventFrame),
      ErrorCode: plain(ErrorCode),
    },
    methods,
    events,
  };
}
