import { Type, type Static } from "typebox";

/**
 * A tool a client runs itself (on the phone: device info, calendar, location, …) and offers to the
 * agent of every session it attaches to. `parameters` is the JSON Schema of its arguments.
 */
export const NativeToolSpec = Type.Object({
  name: Type.String({ pattern: "^[A-Za-z][A-Za-z0-9_-]{0,63}$" }),
  description: Type.Optional(Type.String({ maxLength: 4000 })),
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type NativeToolSpec = Static<typeof NativeToolSpec>;

export const NativeToolRequestEvent = Type.Object({
  callId: Type.String(),
  toolName: Type.String(),
  args: Type.Record(Type.String(), Type.Unknown()),
});

export const NativeToolCancelEvent = Type.Object({ callId: Type.String() });
