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

/**
 * Turns TypeBox's raw errors into a few readable issues: one per unknown property (TypeBox also
 * reports the `false` sub-schema it checks it against), and one "must be one of" per union of
 * literals instead of a "must be equal to constant" per member.
 */
export function describeErrors(errors: TLocalizedValidationError[]): ValidationIssue[] {
  const constsByPath = new Map<string, unknown[]>();
  for (const e of errors) {
    if (e.keyword !== "const") continue;
    const list = constsByPath.get(e.instancePath) ?? [];
    list.push((e.params as { allowedValue: unknown }).allowedValue);
    constsByPath.set(e.instancePath, list);
  }
  const unionPaths = new Set(errors.filter((e) => e.keyword === "anyOf").map((e) => e.instancePath));
  const issues: ValidationIssue[] = [];
  for (const e of errors) {
    if (e.keyword === "boolean" || e.message.includes("schema is false")) continue;
    const allowed = constsByPath.get(e.instancePath);
    if (allowed && unionPaths.has(e.instancePath)) {
      if (e.keyword !== "anyOf") continue;
      const path = e.instancePath === "" ? "/" : e.instancePath;
      issues.push({ path, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}` });
      continue;
    }
    issues.push(describe(e));
  }
  return issues.slice(0, 5);
}

/** Compiles a schema once; the returned function validates and explains, capped at a few issues. */
export function checker<S extends TSchema>(schema: S): Checker<S> {
  const validator = Compile(schema);
  return (value) => {
    if (validator.Check(value)) return { ok: true, value: value as Static<S> };
    return { ok: false, issues: describeErrors(validator.Errors(value)) };
  };
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join("; ");
}
