import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { callerIdentity, connectClient, controllerLocation } from '@crank/controller-client';
import { HostConfigError, loadHostConfig } from '@crank/worker-runtime';
import type { ConformanceResult } from '../conformance-result.js';
import { runGrpcConformance } from '../grpc-conformance.js';
import { runStdioConformance } from '../stdio-conformance.js';

/** Where the CLI writes, and the environment it reads. */
export interface ConformanceCliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

export const USAGE = `usage:
  crank-conformance grpc [options] [-- <command> [args...]]
  crank-conformance stdio [options] -- <command> [args...]
  crank-conformance stdio --config <crank-host.yaml> [--worker <name>]

grpc: checks the workers registered with a controller, each capability they serve: grpc health, a
valid input generated from the input schema, a schema-breaking input (INVALID_INPUT), an unknown
capability and version (NOT_FOUND), the deadline, maxConcurrency calls at once, cancellation; with
a <command>, the kit starts the worker itself and ends with SIGTERM (the drain).
  --controller HOST:PORT   the controller (CRANK_CONTROLLER_URL; default 127.0.0.1:8443)
  --data-dir DIR           its data dir, for ca.crt and the bootstrap token (CRANK_DATA_DIR; ./.crank)
  --ca-file FILE           the CA certificate (CRANK_CA_FILE)
  --token TOKEN            the bootstrap token (CRANK_BOOTSTRAP_TOKEN)
  --name NAME              the kit's caller name (default crank-conformance)
  --worker ID              the registered worker to check (default: the only one)
  --worker-http URL        its HTTP base URL (/docs/json, /health)
  --workers N              workers the <command> registers (default 1; crank-host: one per worker)
  --capability ID[@VER]    check only this capability (repeatable)
  --input ID=JSON          a valid input for a capability, instead of a generated one (repeatable;
                           for a streaming one, a JSON array of its input records)
  --slow-input ID=JSON     an input taking a second or more: deadline, cancellation, drain (repeatable)
  --timeout-ms N           per-call deadline (default 30000)
  --drain-timeout-ms N     longest wait for the exit after SIGTERM (default 40000)

stdio: runs the stdio protocol cases against a worker process, without a controller: a valid task,
a missing task id, an unknown task type, empty params, non-JSON output, a timeout, exit codes, and
logs on stderr rather than stdout.
  --config FILE            take command, mode, env and capabilities from a crank-host config
  --worker NAME            the config's worker to check (default: every one)
  --mode per-task|pool     default per-task
  --type TYPE              the task type of the valid task (without it, the cases needing one skip)
  --params JSON            its params (default: generated from the config's input schema, else {})
  --timeout-ms N           longest wait for an answer (default 10000)

Prints one line per check (PASS, FAIL with the reason, or SKIP with why) and "N passed, N failed";
exits 1 when a check failed, 2 on a usage error.
`;

/** A command line the CLI cannot run; exit status 2. */
class UsageError extends Error {}

/**
 * Runs `crank-conformance` with `argv` (the arguments after the program name).
 * @returns the exit status: 0 all passed, 1 a check failed, 2 a usage error
 */
export async function runConformanceCli(argv: readonly string[], io: ConformanceCliIo): Promise<number> {
  const split = argv.indexOf('--');
  const words = split === -1 ? [...argv] : argv.slice(0, split);
  const command = split === -1 ? [] : argv.slice(split + 1);
  let results: ConformanceResult[];
  try {
    const [mode, ...rest] = words;
    if (mode === undefined || mode === '--help' || mode === '-h' || mode === 'help') {
      io.stdout.write(USAGE);
      return mode === undefined ? 2 : 0;
    }
    const print = (result: ConformanceResult): void => void io.stdout.write(`${line(result)}\n`);
    if (mode === 'grpc') results = await grpc(rest, command, io, print);
    else if (mode === 'stdio') results = await stdio(rest, command, io, print);
    else throw new UsageError(`unknown mode "${mode}": grpc or stdio`);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`crank-conformance: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    io.stderr.write(`crank-conformance: ${(error as Error).message}\n`);
    return 1;
  }
  const count = (status: string): number => results.filter((r) => r.status === status).length;
  const skippedCount = count('skipped');
  io.stdout.write(
    `${count('passed')} passed, ${count('failed')} failed${skippedCount ? `, ${skippedCount} skipped` : ''}\n`,
  );
  return count('failed') > 0 ? 1 : 0;
}

/** `PASS name (note)`, `FAIL name: reason`, `SKIP name: reason`. */
function line(result: ConformanceResult): string {
  if (result.status === 'passed') return `PASS ${result.name}${result.note ? ` (${result.note})` : ''}`;
  return `${result.status === 'failed' ? 'FAIL' : 'SKIP'} ${result.name}: ${result.reason ?? ''}`;
}

async function grpc(
  args: string[],
  command: string[],
  io: ConformanceCliIo,
  print: (result: ConformanceResult) => void,
): Promise<ConformanceResult[]> {
  const { values } = parseArgs({
    args,
    options: {
      controller: { type: 'string' },
      'data-dir': { type: 'string' },
      'ca-file': { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      worker: { type: 'string' },
      'worker-http': { type: 'string' },
      workers: { type: 'string' },
      capability: { type: 'string', multiple: true },
      input: { type: 'string', multiple: true },
      'slow-input': { type: 'string', multiple: true },
      'timeout-ms': { type: 'string' },
      'drain-timeout-ms': { type: 'string' },
    },
  });
  if (values.worker && command.length > 0) throw new UsageError('--worker and a <command>: give one of them');
  const location = controllerLocation(
    {
      ...(values.controller ? { address: values.controller } : {}),
      ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
      ...(values['ca-file'] ? { caFile: resolve(values['ca-file']) } : {}),
      ...(values.token ? { bootstrapToken: values.token } : {}),
    },
    io.env,
  );
  const identity = await callerIdentity(location, values.name ?? 'crank-conformance', {
    ...(io.env['CRANK_HOME'] ? { home: io.env['CRANK_HOME'] } : {}),
  });
  const client = await connectClient({ ...location, identity });
  try {
    return await runGrpcConformance({
      client,
      identity,
      ...(command.length > 0
        ? {
            command,
            env: {
              ...io.env,
              CRANK_CONTROLLER_URL: location.address,
              CRANK_DATA_DIR: location.dataDir,
              CRANK_CA_FILE: location.caFile,
              ...(location.bootstrapToken ? { CRANK_BOOTSTRAP_TOKEN: location.bootstrapToken } : {}),
            },
          }
        : {}),
      ...(values.worker ? { workerId: values.worker } : {}),
      ...(values['worker-http'] ? { workerHttpUrl: values['worker-http'] } : {}),
      ...(values.workers ? { workers: positive(values.workers, '--workers') } : {}),
      ...(values.capability ? { capabilities: values.capability } : {}),
      inputs: byCapability(values.input ?? [], '--input'),
      slowInputs: byCapability(values['slow-input'] ?? [], '--slow-input'),
      ...(values['timeout-ms'] ? { timeoutMs: positive(values['timeout-ms'], '--timeout-ms') } : {}),
      ...(values['drain-timeout-ms']
        ? { drainTimeoutMs: positive(values['drain-timeout-ms'], '--drain-timeout-ms') }
        : {}),
      onResult: print,
    });
  } finally {
    client.close();
  }
}

async function stdio(
  args: string[],
  command: string[],
  io: ConformanceCliIo,
  print: (result: ConformanceResult) => void,
): Promise<ConformanceResult[]> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      worker: { type: 'string' },
      mode: { type: 'string' },
      type: { type: 'string' },
      params: { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
  });
  const timeoutMs = values['timeout-ms'] ? positive(values['timeout-ms'], '--timeout-ms') : undefined;
  const params = values.params === undefined ? undefined : json(values.params, '--params');
  if (values.mode !== undefined && values.mode !== 'per-task' && values.mode !== 'pool') {
    throw new UsageError(`--mode: per-task or pool (got "${values.mode}")`);
  }
  const results: ConformanceResult[] = [];
  const report = (prefix: string, found: ConformanceResult[]): void => {
    for (const result of found) {
      const named = { ...result, name: `${prefix}${result.name}` };
      results.push(named);
      print(named);
    }
  };
  if (values.config) {
    if (command.length > 0) throw new UsageError('--config and a <command>: give one of them');
    let config;
    try {
      config = loadHostConfig(values.config, { env: io.env });
    } catch (error) {
      if (error instanceof HostConfigError) throw new UsageError(`invalid config\n${error.message}`);
      throw error;
    }
    const workers = config.workers.filter((w) => !values.worker || w.name === values.worker);
    if (workers.length === 0)
      throw new UsageError(`--worker: no worker "${values.worker}" in ${values.config}`);
    for (const worker of workers) {
      for (const capability of worker.capabilities) {
        report(
          `${worker.name} ${capability.key}: `,
          await runStdioConformance({
            command: [worker.command, ...worker.args],
            cwd: worker.cwd,
            env: worker.env,
            mode: (values.mode as 'per-task' | 'pool' | undefined) ?? worker.mode,
            capability,
            ...(params === undefined ? {} : { params }),
            timeoutMs: timeoutMs ?? Math.min(worker.timeoutMs, 30_000),
          }),
        );
      }
    }
    return results;
  }
  if (command.length === 0) throw new UsageError('stdio: give the worker\'s command after "--", or --config');
  report(
    '',
    await runStdioConformance({
      command,
      mode: (values.mode as 'per-task' | 'pool' | undefined) ?? 'per-task',
      type: values.type,
      ...(params === undefined ? {} : { params }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    }),
  );
  return results;
}

/** `id=JSON` pairs into a record of parsed values. */
function byCapability(pairs: readonly string[], option: string): Record<string, unknown> {
  const found: Record<string, unknown> = {};
  for (const pair of pairs) {
    const split = pair.indexOf('=');
    if (split <= 0) throw new UsageError(`${option}: expected ID=JSON (got "${pair}")`);
    found[pair.slice(0, split)] = json(pair.slice(split + 1), option);
  }
  return found;
}

function json(text: string, option: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${option}: not JSON (${(error as Error).message})`);
  }
}

function positive(text: string, option: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${option}: must be a positive integer (got "${text}")`);
  return n;
}
