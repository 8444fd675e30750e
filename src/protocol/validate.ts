import { Compile } from "typebox/compile";
import type { Static, TSchema } from "typebox";
import type { TLocalizedValidationError } from "typebox/error";

export interface ValidationIssue {
  path: string;
  message: string;
}

export type CheckResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

export type Checker<S extends TSchema> = (value: unknown) => CheckResult<Static<S>>;

function describe(error: TLocalizedValidationError): ValidationIssue {
  const path = error.instancePath === "" ? "/" : error.instancePath;
  if (error.keyword === "additionalProperties") {
    const extra = (error.params as { additionalProperties: string[] }).additionalProperties;
    return { path, message: `unknown property ${extra.map((p) => JSON.stringify(p)).join(", ")}` };
  }
  if (error.keyword === "required") {
    const missing = (error.params as { requiredProperties?: string[] }).requiredProperties;
    if (missing)
      return { path, message: `missing property ${missing.map((p) => JSON.stringify(p)).join(", ")}` };
  }
  return { path, message: error.message };
}

/** Compiles a schema once; the returned function validates and explains, capped at a few issues. */
export function checker<S extends TSchema>(schema: S): Checker<S> {
  const validator = Compile(schema);
  return (value) => {
    if (validator.Check(value)) return { ok: true, value: value as Static<S> };
    const issues = validator.Errors(value).slice(0, 5).map(describe);
    return { ok: false, issues };
  };
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join("; ");
}
