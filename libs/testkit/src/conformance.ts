import { CrankError, type Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';

/** One case of a conformance run. */
export interface ConformanceCase {
  name: string;
  input: unknown;
  /** Contract code the call must fail with; omit when it must succeed. */
  expectError?: string;
  /** Extra check of a successful output (throw to fail). */
  check?: (output: unknown) => void;
}

/** The verdict of one case. */
export interface ConformanceResult {
  name: string;
  passed: boolean;
  workerId?: string;
  /** Why it failed, naming the rule broken. */
  reason?: string;
}

export interface ConformanceOptions {
  /** A client connected to a controller that routes to the worker under test. */
  client: CrankClient;
  /** The capability as the worker declares it: outputs are checked against its schema here too. */
  capability: Capability;
  cases: readonly ConformanceCase[];
  /** Per-call deadline. @default 30000 */
  timeoutMs?: number;
}

/**
 * Runs each case through the controller against the worker under test and checks what the
 * platform promises: successful outputs match the output schema, failures carry the contract code
 * expected, and every call names the worker that served it. Adds a schema-invalid input case (it
 * must be refused with INVALID_INPUT before reaching the worker).
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceResult[]> {
  const { client, capability } = options;
  const cases: ConformanceCase[] = [
    ...options.cases,
    {
      name: 'input that breaks the schema is refused',
      input: Symbol.for('crank.invalid'),
      expectError: 'INVALID_INPUT',
    },
  ];
  const results: ConformanceResult[] = [];
  for (const c of cases) {
    const input =
      c.input === Symbol.for('crank.invalid') ? { 'crank-conformance-unknown-field': [] } : c.input;
    try {
      const result = await client.invoke(capability.id, input, {
        version: capability.version,
        timeoutMs: options.timeoutMs ?? 30_000,
      });
      if (c.expectError) {
        results.push({
          name: c.name,
          passed: false,
          workerId: result.workerId,
          reason: `expected ${c.expectError}, got success`,
        });
        continue;
      }
      const issues = capability.validateOutput(result.output);
      if (issues.length > 0) {
        const first = issues[0];
        results.push({
          name: c.name,
          passed: false,
          workerId: result.workerId,
          reason: `output ${first?.path || '/'}: ${first?.message}`,
        });
        continue;
      }
      c.check?.(result.output);
      results.push({
        name: c.name,
        passed: result.workerId !== '',
        workerId: result.workerId,
        ...(result.workerId ? {} : { reason: 'no worker id in the answer' }),
      });
    } catch (error) {
      const code = error instanceof CrankError ? error.code : 'INTERNAL';
      const passed = c.expectError !== undefined && code === c.expectError;
      results.push({
        name: c.name,
        passed,
        ...(passed
          ? {}
          : {
              reason: `${c.expectError ? `expected ${c.expectError}, got` : 'failed with'} ${code}: ${(error as Error).message}`,
            }),
      });
    }
  }
  return results;
}

/** Throws one error listing every failed case; returns quietly when all passed. */
export function assertConformance(results: readonly ConformanceResult[]): void {
  const failed = results.filter((r) => !r.passed);
  if (failed.length > 0) {
    throw new Error(`conformance failed:\n${failed.map((r) => `- ${r.name}: ${r.reason}`).join('\n')}`);
  }
}
