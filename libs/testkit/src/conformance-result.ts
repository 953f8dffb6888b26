import { CrankError } from '@crank/capabilities';

/** How a case ended: `skipped` when it could not apply to this capability (the reason says why). */
export type ConformanceStatus = 'passed' | 'failed' | 'skipped';

/** The verdict of one case. */
export interface ConformanceResult {
  name: string;
  status: ConformanceStatus;
  /** `status === 'passed'`. */
  passed: boolean;
  /** The worker that answered, when one did. */
  workerId?: string;
  /**
   * Why it failed or was skipped, naming the rule broken. A failed call reads `call failed with
   * CODE: ...` or `expected CODE, got ...`; an error thrown by the case's own `check` reads
   * `check failed: ...`.
   */
  reason?: string;
  /** What a passed case saw that is worth knowing (e.g. `answered with a declared error: ...`). */
  note?: string;
}

export function passed(name: string, workerId?: string, note?: string): ConformanceResult {
  return {
    name,
    status: 'passed',
    passed: true,
    ...(workerId ? { workerId } : {}),
    ...(note ? { note } : {}),
  };
}

export function failed(name: string, reason: string, workerId?: string): ConformanceResult {
  return { name, status: 'failed', passed: false, reason, ...(workerId ? { workerId } : {}) };
}

export function skipped(name: string, reason: string): ConformanceResult {
  return { name, status: 'skipped', passed: false, reason };
}

/** The contract code of a failed call (INTERNAL for anything that is not a CrankError). */
export function codeOf(error: unknown): string {
  return error instanceof CrankError ? error.code : 'INTERNAL';
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Options of {@link assertConformance}. */
export interface AssertConformanceOptions {
  /** Whether a skipped case fails the assertion too. @default false */
  failOnSkipped?: boolean;
}

/**
 * Throws one error listing every failed case (and, with `failOnSkipped`, every skipped one), each
 * as `- <case name>: <reason>`; returns quietly otherwise.
 */
export function assertConformance(
  results: readonly ConformanceResult[],
  options: AssertConformanceOptions = {},
): void {
  const bad = results.filter(
    (r) => r.status === 'failed' || (options.failOnSkipped === true && r.status === 'skipped'),
  );
  if (bad.length > 0) {
    throw new Error(
      `conformance failed:\n${bad.map((r) => `- ${r.name}: ${r.status === 'skipped' ? 'skipped: ' : ''}${r.reason}`).join('\n')}`,
    );
  }
}
