import { Type, type Static } from "typebox";
import { ErrorBody } from "./errors.js";

export const PROTOCOL_VERSION = 1;

export const RequestId = Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Integer()]);
export type RequestId = Static<typeof RequestId>;

export const RequestFrame = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    kind: Type.Literal("request"),
    id: RequestId,
    sessionId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    method: Type.String({ minLength: 1, maxLength: 64 }),
    params: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type RequestFrame = Static<typeof RequestFrame>;

export const OkResponseFrame = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    kind: Type.Literal("response"),
    id: RequestId,
    ok: Type.Literal(true),
    result: Type.Unknown(),
  },
  { additionalProperties: false },
);

export const ErrorResponseFrame = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    kind: Type.Literal("response"),
    /** null when the request could not be read far enough to know its id. */
    id: Type.Union([RequestId, Type.Null()]),
    ok: Type.Literal(false),
    error: ErrorBody,
  },
  { additionalProperties: false },
);

export const ResponseFrame = Type.Union([OkResponseFrame, ErrorResponseFrame]);
export type OkResponseFrame = Static<typeof OkResponseFrame>;
export type ErrorResponseFrame = Static<typeof ErrorResponseFrame>;
export type ResponseFrame = Static<typeof ResponseFrame>;

export const EventFrame = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    kind: Type.Literal("event"),
    sessionId: Type.String(),
    /** Changes each time the server process opens the session; seq keeps growing across epochs. */
    epoch: Type.String(),
    seq: Type.Integer({ minimum: 1 }),
    /** Only on merged deltas sent to a lagging connection: this frame stands for seqs firstSeq … seq. */
    firstSeq: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Diagnostic emit time, only with PI_SERVER_BENCH_TIMESTAMPS=1. */
    ts: Type.Optional(Type.Number()),
    type: Type.String(),
    payload: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type EventFrame = Static<typeof EventFrame>;

export const ServerFrame = Type.Union([OkResponseFrame, ErrorResponseFrame, EventFrame]);
export type ServerFrame = Static<typeof ServerFrame>;
