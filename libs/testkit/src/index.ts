/**
 * Test kit for worker authors: run a worker against an embedded controller, call a handler
 * in-process with a mock context, and check that a worker keeps the platform's contract.
 *
 * @example
 * ```ts
 * import { assertConformance, callHandler, runConformance, startTestCluster } from '@crank/testkit';
 *
 * // In-process, no controller: input and output checked against the capability's schemas.
 * assert.deepEqual(await callHandler(served, { text: 'abc' }), { text: 'cba' });
 *
 * // An embedded controller (needs @crank/controller installed), the worker, and a client.
 * const cluster = await startTestCluster({ capabilities: [served] });
 * assertConformance(
 *   await runConformance({
 *     cluster,
 *     capability: reverse,
 *     cases: [{ name: 'reverses', input: { text: 'abc' } }],
 *   }),
 * );
 * await cluster.close();
 *
 * // Any worker over gRPC, or a stdio worker for crank-host (also the `crank-conformance` CLI).
 * assertConformance(await runGrpcConformance({ client, command: ['node', 'worker.js'] }));
 * assertConformance(await runStdioConformance({ command: ['python3', 'worker.py'], type: 'text.stats' }));
 * ```
 */
export { callHandler, type AnyHandler, type CallHandlerOptions } from './call-handler.js';
export { CANCELLATION_CASE, type ConformanceCancellation } from './cancellation-check.js';
export { CONCURRENCY_CASE } from './concurrency-check.js';
export { DEADLINE_CASE } from './deadline-check.js';
export { GENERATED_CASE, generateValidInput } from './generated-input.js';
export { NOT_FOUND_CASE } from './not-found-check.js';
export { HEALTH_CASE } from './worker-health-check.js';
export {
  SCHEMA_CASE,
  runConformance,
  type ConformanceCase,
  type ConformanceOptions,
  type ConformanceStreamCase,
} from './conformance.js';
export {
  assertConformance,
  type AssertConformanceOptions,
  type ConformanceResult,
  type ConformanceStatus,
} from './conformance-result.js';
export { runConformanceCli, type ConformanceCliIo } from './cli/conformance-cli.js';
export { DRAIN_CASE } from './drain-check.js';
export { START_CASE, runGrpcConformance, type GrpcConformanceOptions } from './grpc-conformance.js';
export type { HandlerRun } from './handler-runs.js';
export {
  STDIO_CASES,
  UNKNOWN_TYPE,
  runStdioConformance,
  type StdioConformanceOptions,
} from './stdio-conformance.js';
export {
  mockContext,
  type LogRecord,
  type MockContextOptions,
  type MockHandlerContext,
  type ProgressRecord,
} from './mock-context.js';
export {
  startTestCluster,
  type TestCluster,
  type TestClusterOptions,
  type TestWorkerOptions,
} from './test-cluster.js';
