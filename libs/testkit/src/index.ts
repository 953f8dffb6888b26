/**
 * Conformance kit for worker authors: run your worker against a controller and check that it
 * keeps the platform's contract.
 *
 * @example
 * ```ts
 * import { connectClient } from '@crank/controller-client';
 * import { assertConformance, runConformance } from '@crank/testkit';
 *
 * const client = await connectClient({ name: 'ci' });
 * assertConformance(
 *   await runConformance({ client, capability: myCapability, cases: [{ name: 'echo', input: { message: 'hi' } }] }),
 * );
 * ```
 */
export { assertConformance, runConformance } from './conformance.js';
export type { ConformanceCase, ConformanceOptions, ConformanceResult } from './conformance.js';
