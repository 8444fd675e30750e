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

export const ErrorBody = Type.Object(
  {
    code: ErrorCode,
    message: Type.String(),
    details: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** An error that crosses the protocol boundary as `{code, message, details}`. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    this.details = details;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
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
