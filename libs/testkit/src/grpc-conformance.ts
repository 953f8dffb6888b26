import type { Capability, StreamingMode } from '@crank/capabilities';
import type { CrankClient, TlsIdentity } from '@crank/controller-client';
import { runConformance, type ConformanceOptions } from './conformance.js';
import { failed, messageOf, type ConformanceResult } from './conformance-result.js';
import { checkDrain } from './drain-check.js';
import { StartedWorker, type StartedWorkerInfo } from './started-worker.js';
import { workerCapabilities } from './worker-capabilities.js';

/** Name of the case that starts the worker process and waits for it to register. */
export const START_CASE = 'the worker process starts and registers';

/** Options of {@link runGrpcConformance}. */
export interface GrpcConformanceOptions {
  /** A client of the controller the worker registers with. */
  client: CrankClient;
  /** The client's certificate: lets the kit ask the worker's own gRPC health service. */
  identity?: TlsIdentity;
  /**
   * Starts the worker under test: the program and its arguments. The kit then checks the workers
   * it registers, sends it SIGTERM at the end (the drain case) and kills its process group.
   */
  command?: readonly string[];
  /** Environment of the started process (give it the controller's location). @default `process.env` */
  env?: Readonly<Record<string, string | undefined>>;
  /** Workers the started process registers (crank-host registers one per configured worker). @default 1 */
  workers?: number;
  /** The worker to check when the kit does not start one. @default the only worker registered */
  workerId?: string;
  /** That worker's HTTP base URL (its /docs/json and /health). @default the URL the started process logs */
  workerHttpUrl?: string;
  /** Check only these capabilities: ids, or `id@version`. @default every one the worker serves */
  capabilities?: readonly string[];
  /** A valid input per capability id, sent instead of a generated one. */
  inputs?: Readonly<Record<string, unknown>>;
  /** A slow input per capability id (a second or more of work): runs the deadline, cancellation and drain cases. */
  slowInputs?: Readonly<Record<string, unknown>>;
  /** Per-call deadline. @default 30000 */
  timeoutMs?: number;
  /** Longest wait for the started process to register. @default 60000 */
  startTimeoutMs?: number;
  /** Longest wait for the started process to exit after SIGTERM. @default 40000 */
  drainTimeoutMs?: number;
  /** Called with each result as soon as it is known (the CLI prints it). */
  onResult?: (result: ConformanceResult) => void;
}

/**
 * Checks workers registered with a controller, over gRPC, as the controller's callers see them:
 * for each capability each worker serves, the cases of {@link runConformance} (grpc health, a
 * generated valid input, a schema-breaking one, NOT_FOUND, the deadline, `maxConcurrency` calls at
 * once, cancellation), each result named `<capability>: <case>` (with the worker id first when
 * several workers are checked). Given `command`, it starts the worker itself, and ends with the
 * drain case: SIGTERM, calls in flight answered, deregistered, exit 0.
 *
 * @throws Error when no worker is named and the controller has none, or several, registered
 */
export async function runGrpcConformance(options: GrpcConformanceOptions): Promise<ConformanceResult[]> {
  const { client } = options;
  const results: ConformanceResult[] = [];
  const report = (result: ConformanceResult): void => {
    results.push(result);
    options.onResult?.(result);
  };
  let started: StartedWorker | undefined;
  try {
    let targets: StartedWorkerInfo[];
    if (options.command) {
      const known = new Set((await client.workers()).map((w) => w.id));
      started = new StartedWorker(options.command, options.env ?? process.env);
      try {
        targets = await started.registered(
          client,
          known,
          options.workers ?? 1,
          options.startTimeoutMs ?? 60_000,
        );
      } catch (error) {
        report(failed(START_CASE, messageOf(error)));
        return results;
      }
    } else {
      targets = [{ id: options.workerId ?? (await onlyWorker(client)), httpUrl: options.workerHttpUrl }];
    }
    const slow: { capability: Capability; workerId: string; input: unknown }[] = [];
    for (const target of targets) {
      let capabilities: Capability[];
      try {
        capabilities = selected(
          await workerCapabilities(client, target.id, target.httpUrl),
          options.capabilities,
        );
      } catch (error) {
        report(failed(`${target.id}: its capabilities are read`, messageOf(error), target.id));
        continue;
      }
      for (const capability of capabilities) {
        const prefix = `${targets.length > 1 ? `${target.id} ` : ''}${capability.key}: `;
        const input = options.inputs?.[capability.id];
        const slowInput = options.slowInputs?.[capability.id];
        if (slowInput !== undefined) slow.push({ capability, workerId: target.id, input: slowInput });
        const cases = await runConformance({
          client,
          capability,
          workerId: target.id,
          ...(target.httpUrl ? { workerHttpUrl: target.httpUrl } : {}),
          ...(options.identity ? { identity: options.identity } : {}),
          ...givenInput(capability.streaming, input),
          ...(slowInput === undefined ? {} : { slowInput }),
          timeoutMs: options.timeoutMs ?? 30_000,
        });
        for (const result of cases) report({ ...result, name: `${prefix}${result.name}` });
      }
    }
    if (started) {
      report(
        await checkDrain({
          client,
          process: started,
          workerIds: targets.map((t) => t.id),
          ...(slow[0] ? { slow: slow[0] } : {}),
          drainTimeoutMs: options.drainTimeoutMs ?? 40_000,
        }),
      );
    }
    return results;
  } finally {
    await started?.kill();
  }
}

/** The id of the one worker registered; an error listing them when there are none or several. */
async function onlyWorker(client: CrankClient): Promise<string> {
  const live = (await client.workers()).filter((w) => w.state !== 'gone');
  if (live.length === 1 && live[0]) return live[0].id;
  throw new Error(
    live.length === 0
      ? 'no worker is registered with the controller: start one, or give the command that starts it'
      : `${live.length} workers are registered (${live.map((w) => w.id).join(', ')}): name the one to check`,
  );
}

function selected(capabilities: Capability[], wanted: readonly string[] | undefined): Capability[] {
  if (!wanted || wanted.length === 0) return capabilities;
  return capabilities.filter((c) => wanted.includes(c.id) || wanted.includes(c.key));
}

const GIVEN_INPUT_CASE = 'the given input is answered with a valid output';

/**
 * The case for an `--input`: a unary case, or for a streaming capability a stream case whose
 * records are the input (a JSON array: one record each); none given, a generated one.
 */
function givenInput(
  streaming: StreamingMode,
  input: unknown,
): Pick<ConformanceOptions, 'cases' | 'streamCases' | 'generateInput'> {
  if (input === undefined) return { generateInput: true };
  if (streaming === 'none') return { cases: [{ name: GIVEN_INPUT_CASE, input }] };
  return { streamCases: [{ name: GIVEN_INPUT_CASE, records: Array.isArray(input) ? input : [input] }] };
}
