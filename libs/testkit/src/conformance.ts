import type { Capability } from '@crank/capabilities';
import type { CrankClient, TlsIdentity } from '@crank/controller-client';
import { checkCancellation, CANCELLATION_CASE, type ConformanceCancellation } from './cancellation-check.js';
import { answered, callOnce, failedCall, preview, type Run } from './case-runner.js';
import { checkConcurrency } from './concurrency-check.js';
import { failed, skipped, type ConformanceResult } from './conformance-result.js';
import { checkDeadline } from './deadline-check.js';
import { generateValidInput, runGeneratedCase } from './generated-input.js';
import type { InFlightTarget } from './in-flight.js';
import { checkNotFound } from './not-found-check.js';
import { findSchemaBreakingInput } from './schema-breaking-input.js';
import { handlerRunLogOf, type TestCluster } from './test-cluster.js';
import { checkWorkerHealth } from './worker-health-check.js';

/** One unary case of a conformance run (a capability whose `streaming` is `none`). */
export interface ConformanceCase {
  name: string;
  input: unknown;
  /** Contract code the call must fail with; omit when it must succeed. */
  expectError?: string;
  /**
   * Extra check of a successful output; throw (or reject) to fail. Its errors are reported as
   * `check failed: ...`, apart from failures of the call itself.
   */
  check?: (output: unknown) => void | Promise<void>;
}

/** One case of a streaming capability (`input`, `output` or `bidi`), sent with `invokeStream`. */
export interface ConformanceStreamCase {
  name: string;
  /** Input records; a capability that streams only its output takes exactly one. */
  records: Iterable<unknown> | AsyncIterable<unknown>;
  /** How many output records must come back. */
  expectRecords?: number;
  /** Contract code the call must fail with; omit when it must succeed. */
  expectError?: string;
  /** Extra check of the output records; throw (or reject) to fail (`check failed: ...`). */
  check?: (records: unknown[]) => void | Promise<void>;
}

/** Options of {@link runConformance}. Give `client` or `cluster`. */
export interface ConformanceOptions {
  /** A client connected to a controller that routes to the worker under test. @default `cluster.client` */
  client?: CrankClient;
  /**
   * A cluster from `startTestCluster`: supplies `client`, `identity`, `workerId` and
   * `workerHttpUrl` (its worker under test, when it has one), and lets the cancellation and
   * deadline cases see whether the handler itself stopped.
   */
  cluster?: TestCluster;
  /** The capability as the worker declares it: outputs are checked against its schema here too. */
  capability: Capability;
  /** Unary cases (capabilities that do not stream). */
  cases?: readonly ConformanceCase[];
  /** Cases of a streaming capability. */
  streamCases?: readonly ConformanceStreamCase[];
  /**
   * The cancellation case: a call cancelled while it runs must end with CANCELLED, free its slot
   * on the controller and on the worker, and (for a worker the testkit started) stop its handler.
   * Reported as skipped when not given.
   */
  cancellation?: ConformanceCancellation;
  /**
   * Id of the worker under test: every answer must come from it (another worker offering the
   * same capability would otherwise pass for it). @default `cluster.worker.id`
   */
  workerId?: string;
  /** Base URL of the worker's HTTP endpoints, for its `/health`. @default `cluster.worker.httpUrl` */
  workerHttpUrl?: string;
  /** Per-call deadline. @default 30000 */
  timeoutMs?: number;
  /**
   * A valid input the handler works on for a second or more (and less than the worker's drain
   * time). Runs the deadline case, makes the calls of the concurrency case overlap on the worker,
   * and stands in for `cancellation.input` when `cancellation` is not given.
   */
  slowInput?: unknown;
  /**
   * Adds a case with an input generated from the input schema (json-schema-faker), which must be
   * answered with a valid output or a declared error code.
   * @default true when neither `cases` nor `streamCases` is given
   */
  generateInput?: boolean;
  /**
   * The caller's certificate, to ask the worker's own `grpc.health.v1` service; the health case is
   * skipped without it. @default `cluster.identity`
   */
  identity?: TlsIdentity;
  /**
   * Calls the concurrency case sends at once; 0 skips it.
   * @default the capability's `resources.maxConcurrency` (at most 128)
   */
  concurrency?: number;
}

/** Name of the built-in case that sends an input breaking the input schema. */
export const SCHEMA_CASE = 'input that breaks the schema is refused';

/**
 * Runs each case through the controller against the worker under test and checks what the
 * platform promises: successful outputs match the output schema, failures carry the contract code
 * expected, every answer names the worker that served it (the worker under test, when known).
 * Then its own cases, each `skipped` (with the reason) when it cannot apply:
 *
 * - `GENERATED_CASE`: an input generated from the input schema is answered (when no cases
 *   are given, or with `generateInput`);
 * - `SCHEMA_CASE`: an input that breaks the input schema (found with the capability's own
 *   validator) is refused with INVALID_INPUT;
 * - `HEALTH_CASE`: the worker's gRPC health service answers SERVING (given `identity`);
 * - `NOT_FOUND_CASE`: an unknown capability and an unknown version are NOT_FOUND;
 * - `DEADLINE_CASE`: a call past its deadline ends with DEADLINE_EXCEEDED and frees its
 *   slot (given `slowInput`);
 * - `CONCURRENCY_CASE`: `maxConcurrency` calls at once are all answered;
 * - `CANCELLATION_CASE`: a cancelled call frees its slot and stops its handler (given
 *   `cancellation` or `slowInput`).
 *
 * Cases run one after another; the results keep their order, the built-in cases last.
 *
 * @throws TypeError when neither `client` nor `cluster` is given
 */
export async function runConformance(options: ConformanceOptions): Promise<ConformanceResult[]> {
  const { capability, cluster } = options;
  const client = options.client ?? cluster?.client;
  if (!client) throw new TypeError('client: give a client, or a cluster from startTestCluster');
  const underTest = cluster ? workerOf(cluster) : undefined;
  const run: Run = {
    client,
    capability,
    workerId: options.workerId ?? underTest?.id,
    timeoutMs: options.timeoutMs ?? 30_000,
  };
  const target: InFlightTarget = {
    ...run,
    workerHttpUrl: options.workerHttpUrl ?? underTest?.httpUrl,
    runs: cluster ? handlerRunLogOf(cluster) : undefined,
  };
  const streaming = capability.streaming !== 'none';
  const cases = options.cases ?? [];
  const streamCases = options.streamCases ?? [];
  const results: ConformanceResult[] = [];
  // Valid inputs the worker answered: the concurrency case sends one of them.
  const answeredInputs: unknown[] = [];

  for (const c of cases) {
    const result = streaming
      ? failed(
          c.name,
          `${capability.id} streams (${capability.streaming}): give this case in streamCases, with records`,
        )
      : await runUnaryCase(run, c);
    if (result.passed && !c.expectError) answeredInputs.push(c.input);
    results.push(result);
  }
  for (const c of streamCases) {
    const result = streaming
      ? await runStreamCase(run, c)
      : failed(c.name, `${capability.id} does not stream: give this case in cases, with an input`);
    if (result.passed && !c.expectError && Array.isArray(c.records) && c.records.length > 0) {
      const streamsIn = capability.streaming === 'input' || capability.streaming === 'bidi';
      answeredInputs.push(streamsIn ? c.records : c.records[0]);
    }
    results.push(result);
  }
  const samples = samplesOf(cases, streamCases);
  if (options.generateInput ?? (cases.length === 0 && streamCases.length === 0)) {
    const generated = await generateValidInput(capability);
    const result = await runGeneratedCase(run, generated);
    if (generated) {
      samples.push(generated.input);
      if (result.passed && result.note?.startsWith('sent ')) answeredInputs.push(generated.input);
    }
    results.push(result);
  }
  results.push(await runSchemaCase(run, samples));
  results.push(await checkWorkerHealth(run, options.identity ?? cluster?.identity));
  results.push(await checkNotFound(run, samples[0]));
  results.push(await checkDeadline(run, target, options.slowInput));
  results.push(
    await checkConcurrency(
      run,
      options.slowInput ?? answeredInputs[0],
      options.concurrency ?? capability.definition.resources.maxConcurrency,
    ),
  );
  const cancellation =
    options.cancellation ?? (options.slowInput === undefined ? undefined : { input: options.slowInput });
  results.push(
    cancellation
      ? await checkCancellation({ ...target, timeoutMs: run.timeoutMs }, cancellation)
      : skipped(CANCELLATION_CASE, 'no `cancellation` input given'),
  );
  return results;
}

async function runUnaryCase(run: Run, c: ConformanceCase): Promise<ConformanceResult> {
  let answer;
  try {
    answer = await callOnce(run, c.input);
  } catch (error) {
    return failedCall(c.name, c.expectError, error);
  }
  const output = answer.records[0];
  return answered(run, c.name, c.expectError, answer, async () => c.check?.(output));
}

async function runStreamCase(run: Run, c: ConformanceStreamCase): Promise<ConformanceResult> {
  const records: unknown[] = [];
  let workerId: string | undefined;
  try {
    const stream = run.client.invokeStream(run.capability.id, c.records, {
      version: run.capability.version,
      timeoutMs: run.timeoutMs,
    });
    workerId = (await stream.accepted).workerId;
    for await (const record of stream) records.push(record);
  } catch (error) {
    return failedCall(c.name, c.expectError, error, workerId);
  }
  if (!c.expectError && c.expectRecords !== undefined && records.length !== c.expectRecords) {
    return failed(c.name, `expected ${c.expectRecords} output records, got ${records.length}`, workerId);
  }
  return answered(run, c.name, c.expectError, { records, workerId }, async () => c.check?.(records));
}

/** Sends an input the schema refuses; it must fail with INVALID_INPUT. */
async function runSchemaCase(run: Run, samples: readonly unknown[]): Promise<ConformanceResult> {
  const breaking = findSchemaBreakingInput(run.capability, samples);
  if (!breaking) {
    return skipped(
      SCHEMA_CASE,
      'the input schema accepts every input tried (schema `true` or `{}`?): there is no invalid input to send',
    );
  }
  const c = { name: SCHEMA_CASE, expectError: 'INVALID_INPUT' };
  const result =
    run.capability.streaming === 'none'
      ? await runUnaryCase(run, { ...c, input: breaking.input })
      : await runStreamCase(run, { ...c, records: [breaking.input] });
  if (result.status === 'failed') {
    return { ...result, reason: `${result.reason} (sent ${preview(breaking.input)}, ${breaking.issue})` };
  }
  return result;
}

/** Valid inputs from the author's cases, to derive invalid ones from. */
function samplesOf(
  cases: readonly ConformanceCase[],
  streamCases: readonly ConformanceStreamCase[],
): unknown[] {
  const samples: unknown[] = cases.filter((c) => !c.expectError).map((c) => c.input);
  for (const c of streamCases) {
    if (!c.expectError && Array.isArray(c.records) && c.records.length > 0) samples.push(c.records[0]);
  }
  return samples;
}

function workerOf(cluster: TestCluster): { id: string; httpUrl: string } | undefined {
  try {
    return cluster.worker;
  } catch {
    return undefined;
  }
}
