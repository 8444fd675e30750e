import { RequestFrame, type RequestId } from "../protocol/envelope.js";
import { type MethodName, Methods } from "../protocol/methods.js";
import { checker, type Checker } from "../protocol/validate.js";

export const checkRequest = checker(RequestFrame);
const paramCheckers = new Map<MethodName, Checker<Methods[MethodName]["params"]>>();
export function paramChecker(method: MethodName): Checker<Methods[MethodName]["params"]> {
  let c = paramCheckers.get(method);
  if (!c) {
    c = checker(Methods[method].params);
    paramCheckers.set(method, c);
  }
  return c;
}

/** The request id, when the frame carries a readable one (answers to unreadable frames carry null). */
export function idOf(value: unknown): RequestId | null {
  const id = (value as { id?: unknown } | null)?.id;
  if (typeof id === "string" && id.length > 0 && id.length <= 128) return id;
  if (typeof id === "number" && Number.isInteger(id)) return id;
  return null;
}
