import { Type, type Static } from "typebox";

export const ErrorCode = Type.Union([
  Type.Literal("parse_error"),
  Type.Literal("invalid_request"),
  Type.Literal("unknown_method"),
  Type.Literal("unauthorized"),
  Type.Literal("not_found"),
  Type.Literal("conflict"),
  Type.Literal("limit_exceeded"),
  Type.Literal("forbidden"),
  Type.Literal("internal"),
]);
export type ErrorCode = Static<typeof ErrorCode>;

/** Structured extras of an error (validation issues, the changes that block a delete, a limit's value). */
export const ErrorData = Type.Record(Type.String(), Type.Unknown());
export type ErrorData = Static<typeof ErrorData>;

export const ErrorBody = Type.Object(
  {
    code: ErrorCode,
    message: Type.String(),
    /** Human-readable elaboration; always a string, so clients that decode it as text never fail. */
    details: Type.Optional(Type.String()),
    /** Machine-readable extras; which keys appear depends on the error (docs/protocol.md, Errors). */
    data: Type.Optional(ErrorData),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** An error that crosses the protocol boundary as `{code, message, details?, data?}`. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly data: ErrorData | undefined;
  readonly details: string | undefined;

  constructor(code: ErrorCode, message: string, data?: ErrorData, details?: string) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.data = data;
    this.details = details;
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.data, this.details);
  }
}

export function errorBody(code: ErrorCode, message: string, data?: ErrorData, details?: string): ErrorBody {
  const body: ErrorBody = { code, message };
  if (details !== undefined) body.details = details;
  if (data !== undefined) body.data = data;
  return body;
}

/** WebSocket close codes the server uses, so clients can tell why they were dropped. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  frameTooLarge: 1009,
  unauthorized: 4401,
  helloTimeout: 4408,
  protocolViolation: 4400,
  slowConsumer: 4409,
  tooManyAttempts: 4429,
} as const;
