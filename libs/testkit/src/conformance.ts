import type { Capability } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { checkCancellation, CANCELLATION_CASE, type ConformanceCancellation } from './cancellation-check.js';
import { codeOf, failed, messageOf, passed, skipped, type ConformanceResult } from './conformance-result.js';
import { findSchemaBreakingInput } from './schema-breaking-input.js';
import { handlerRunLogOf, type TestCluster } from './test-cluster.js';

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
   * A cluster from `startTestCluster`: supplies `client`, `workerId` and `workerHttpUrl` (its
   * worker under test, when it has one), and lets the cancellation case see whether the handler
   * itself stopped.
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
}

/** Name of the built-in case that sends an input breaking the input schema. */
export const SCHEMA_CASE = 'input that breaks the schema is refused';

/**
 * Runs each case through the controller against the worker under test and checks what the
 * platform promises: successful outputs match the output schema, failures carry the contract code
 * expected, every answer names the worker that served it (the worker under test, when known).
 * Adds two cases of its own: an input that breaks the input schema (found with the capability's
 * own validator; skipped when the schema accepts anything) must be refused with INVALID_INPUT,
 * and, given `cancellation`, a cancelled call must free its slot and stop its handler.
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
  const streaming = capability.streaming !== 'none';
  const cases = options.cases ?? [];
  const streamCases = options.streamCases ?? [];
  const results: ConformanceResult[] = [];

  for (const c of cases) {
    results.push(
      streaming
        ? failed(
            c.name,
            `${capability.id} streams (${capability.streaming}): give this case in streamCases, with records`,
          )
        : await runUnaryCase(run, c),
    );
  }
  for (const c of streamCases) {
    results.push(
      streaming
        ? await runStreamCase(run, c)
        : failed(c.name, `${capability.id} does not stream: give this case in cases, with an input`),
    );
  }
  results.push(await runSchemaCase(run, samplesOf(cases, streamCases)));
  if (options.cancellation) {
    results.push(
      await checkCancellation(
        {
          ...run,
          workerHttpUrl: options.workerHttpUrl ?? underTest?.httpUrl,
          runs: cluster ? handlerRunLogOf(cluster) : undefined,
        },
        options.cancellation,
      ),
    );
  } else {
    results.push(skipped(CANCELLATION_CASE, 'no `cancellation` input given'));
  }
  return results;
}

interface Run {
  client: CrankClient;
  capability: Capability;
  workerId: string | undefined;
  timeoutMs: number;
}

async function runUnaryCase(run: Run, c: ConformanceCase): Promise<ConformanceResult> {
  let result;
  try {
    result = await run.client.invoke(run.capability.id, c.input, {
      version: run.capability.version,
      timeoutMs: run.timeoutMs,
    });
  } catch (error) {
    return failedCall(c.name, c.expectError, error);
  }
  const { output, workerId } = result;
  return answered(run, c.name, c.expectError, workerId, [output], async () => c.check?.(output));
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
  return answered(run, c.name, c.expectError, workerId, records, async () => c.check?.(records));
}

/** The verdict of a call that failed: passed only with the code the case expects. */
function failedCall(
  name: string,
  expectError: string | undefined,
  error: unknown,
  workerId?: string,
): ConformanceResult {
  const code = codeOf(error);
  if (expectError !== undefined && code === expectError) return passed(name, workerId);
  return failed(
    name,
    `${expectError ? `expected ${expectError}, got` : 'call failed with'} ${code}: ${messageOf(error)}`,
    workerId,
  );
}

/** The verdict of a call that answered: its outputs, the worker that answered, the case's check. */
async function answered(
  run: Run,
  name: string,
  expectError: string | undefined,
  workerId: string | undefined,
  outputs: readonly unknown[],
  check: () => Promise<void>,
): Promise<ConformanceResult> {
  if (expectError) return failed(name, `expected ${expectError}, got success`, workerId);
  for (const [index, output] of outputs.entries()) {
    if (output instanceof Uint8Array) continue;
    const first = run.capability.validateOutput(output)[0];
    if (first) {
      const where = outputs.length > 1 || run.capability.streaming !== 'none' ? `record ${index} ` : '';
      return failed(name, `output ${where}${first.path || '/'}: ${first.message}`, workerId);
    }
  }
  if (!workerId) return failed(name, 'no worker id in the answer');
  if (run.workerId && workerId !== run.workerId) {
    return failed(
      name,
      `answered by worker "${workerId}", not by the worker under test "${run.workerId}"`,
      workerId,
    );
  }
  try {
    await check();
  } catch (error) {
    return failed(name, `check failed: ${messageOf(error)}`, workerId);
  }
  return passed(name, workerId);
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

function preview(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}
