import type { ErrorObject } from 'ajv';

/** One way a payload breaks a JSON Schema. */
export interface SchemaIssue {
  /** JSON pointer (RFC 6901) to the offending value, e.g. `/items/0/name`; `''` is the whole payload. */
  readonly path: string;
  /** What is wrong, e.g. `must be string`. */
  readonly message: string;
  /** The JSON Schema keyword that failed, e.g. `type`, `required`, `maxLength`. */
  readonly keyword: string;
}

/** How many issues a one-line message lists before it says "and N more". */
const LISTED_ISSUES = 10;

/** Escapes one JSON pointer segment (RFC 6901 section 3). */
export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describeValues(values: unknown): string {
  return Array.isArray(values) ? values.map((value) => JSON.stringify(value)).join(', ') : String(values);
}

/**
 * Converts ajv's errors into {@link SchemaIssue}s. `required` and `additionalProperties` errors
 * point at the missing or extra property itself rather than at its parent object (where ajv puts
 * them), so that every issue names the field a person has to fix.
 */
export function issuesFromAjv(errors: readonly ErrorObject[] | null | undefined): SchemaIssue[] {
  if (!errors) return [];
  return errors.map((error): SchemaIssue => {
    const params = error.params as Record<string, unknown>;
    switch (error.keyword) {
      case 'required':
        return {
          path: `${error.instancePath}/${escapePointerSegment(String(params['missingProperty']))}`,
          message: 'is required',
          keyword: 'required',
        };
      case 'additionalProperties':
        return {
          path: `${error.instancePath}/${escapePointerSegment(String(params['additionalProperty']))}`,
          message: 'is not an allowed property',
          keyword: 'additionalProperties',
        };
      case 'enum':
        return {
          path: error.instancePath,
          message: `must be one of ${describeValues(params['allowedValues'])}`,
          keyword: 'enum',
        };
      default:
        return { path: error.instancePath, message: error.message ?? 'is invalid', keyword: error.keyword };
    }
  });
}

/**
 * Renders issues as one line, each as `<subject> <path>: <message>` (the root shown as `/`), for
 * error messages such as `input /message: must be string; input /delayMs: must be <= 60000`.
 */
export function formatIssues(subject: string, issues: readonly SchemaIssue[]): string {
  const listed = issues
    .slice(0, LISTED_ISSUES)
    .map((issue) => `${subject} ${issue.path === '' ? '/' : issue.path}: ${issue.message}`);
  const rest = issues.length - listed.length;
  return rest > 0 ? `${listed.join('; ')}; and ${rest} more` : listed.join('; ');
}
