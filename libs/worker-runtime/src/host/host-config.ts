import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Capability } from '@crank/capabilities';
import { WIRE_LIMITS } from '@crank/proto';
import {
  integer,
  isDirectory,
  isRecord,
  pattern,
  processEnv,
  program,
  stringList,
  unknownFields,
  type Report,
} from './config-fields.js';
import { compileHostCapability } from './host-capability.js';
import {
  ConfigSource,
  HostConfigError,
  fieldName,
  type ConfigIssue,
  type ConfigPath,
} from './config-source.js';

/** How a configured worker runs its tasks. */
export type HostMode = 'per-task' | 'pool';

/** One worker of a host config, compiled: defaults filled, paths absolute, capabilities checked. */
export interface HostWorkerConfig {
  /** Short name of the worker kind; its Crank worker id is derived from it. */
  readonly name: string;
  /** A fixed Crank worker id. @default `${name}-${6 random hex}` */
  readonly workerId: string | undefined;
  /** What it serves, each with `maxConcurrency` and the host's own error codes filled in. */
  readonly capabilities: readonly Capability[];
  /** The program to start: the interpreter when one is given, else the command. */
  readonly command: string;
  /** Its arguments: the script first when an interpreter is given. */
  readonly args: readonly string[];
  readonly cwd: string;
  /** The process's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly mode: HostMode;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  /** Pool size, or the most per-task processes at once. */
  readonly concurrency: number;
  readonly maxOutputBytes: number;
  readonly grpcPort: number | undefined;
  readonly httpPort: number | undefined;
}

/** A checked host config. */
export interface HostConfig {
  /** The file it was read from (for messages). */
  readonly file: string;
  readonly workers: readonly HostWorkerConfig[];
}

/** What the config is checked against besides its own text; defaults are this process's. */
export interface HostConfigContext {
  /** Relative `cwd` entries resolve against this. @default the config file's directory */
  baseDir?: string;
  /** Environment the processes inherit (less every `CRANK_*` variable). @default `process.env` */
  env?: NodeJS.ProcessEnv;
  /** Whether a path is an executable file (commands and interpreters are checked at start). */
  isExecutable?: (path: string) => boolean;
  /** Whether a path is a directory. */
  isDirectory?: (path: string) => boolean;
  /** Whether a path is a file (scripts given to an interpreter). */
  isFile?: (path: string) => boolean;
}

/** `timeoutMs` of a worker that gives none. */
export const DEFAULT_TASK_TIMEOUT_MS = 30_000;
/** `maxOutputBytes` of a worker that gives none: 16 MiB. */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

const TOP_FIELDS = ['workers'] as const;
const WORKER_FIELDS = [
  'name',
  'workerId',
  'capabilities',
  'command',
  'args',
  'interpreter',
  'cwd',
  'env',
  'mode',
  'timeoutMs',
  'maxRetries',
  'concurrency',
  'maxOutputBytes',
  'grpcPort',
  'httpPort',
] as const;
const NAME = /^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$/;
const WORKER_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Reads and checks a host config file (YAML, or JSON, which YAML reads too).
 * @throws HostConfigError listing every problem as `file:line: field: rule`
 */
export function loadHostConfig(file: string, context: HostConfigContext = {}): HostConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new HostConfigError(file, [
      { line: 1, field: '(file)', message: `cannot be read (${(error as Error).message})` },
    ]);
  }
  return parseHostConfig(text, file, { baseDir: dirname(resolve(file)), ...context });
}

/**
 * Checks a host config given as text. Pure but for the file checks of `context`: every field is
 * checked and every problem reported at once, each with its line.
 * @throws HostConfigError listing every problem as `file:line: field: rule`
 */
export function parseHostConfig(text: string, file: string, context: HostConfigContext = {}): HostConfig {
  const source = ConfigSource.parse(text, file);
  const issues: { path: ConfigPath; message: string }[] = [];
  const report = (path: ConfigPath, message: string): void => void issues.push({ path, message });
  const root = source.value();
  const workers: HostWorkerConfig[] = [];
  if (!isRecord(root)) {
    report([], 'the config must be a mapping with a "workers" list');
  } else {
    unknownFields(root, TOP_FIELDS, [], report);
    const list = root['workers'];
    if (!Array.isArray(list) || list.length === 0) {
      report(['workers'], 'must be a list of at least one worker');
    } else {
      const names = new Set<string>();
      list.forEach((raw, index) => {
        const worker = compileWorker(raw, ['workers', index], context, report);
        if (!worker) return;
        if (names.has(worker.name)) report(['workers', index, 'name'], `"${worker.name}" is used twice`);
        names.add(worker.name);
        workers.push(worker);
      });
    }
  }
  if (issues.length > 0) {
    const located: ConfigIssue[] = issues.map((issue) => ({
      line: source.lineOf(issue.path),
      field: issue.path.length === 0 ? '(root)' : fieldName(issue.path),
      message: issue.message,
    }));
    throw new HostConfigError(
      file,
      located.sort((a, b) => a.line - b.line),
    );
  }
  return { file, workers };
}

function compileWorker(
  raw: unknown,
  at: ConfigPath,
  context: HostConfigContext,
  report: Report,
): HostWorkerConfig | undefined {
  if (!isRecord(raw)) {
    report(at, 'must be a mapping (name, command, capabilities, ...)');
    return undefined;
  }
  const count = { issues: 0 };
  const fail: Report = (path, message) => {
    count.issues += 1;
    report(path, message);
  };
  unknownFields(raw, WORKER_FIELDS, at, fail);
  const name = pattern(raw, 'name', at, NAME, 'a lowercase DNS label of at most 48 characters', fail);
  const workerId =
    raw['workerId'] === undefined
      ? undefined
      : pattern(raw, 'workerId', at, WORKER_ID, 'a lowercase DNS label', fail);
  const mode = raw['mode'] ?? 'per-task';
  if (mode !== 'per-task' && mode !== 'pool') {
    fail([...at, 'mode'], `must be "per-task" or "pool" (got ${JSON.stringify(mode)})`);
  }
  const timeoutMs = integer(
    raw,
    'timeoutMs',
    at,
    1,
    WIRE_LIMITS.maxDeadlineMs,
    DEFAULT_TASK_TIMEOUT_MS,
    fail,
  );
  const maxRetries = integer(raw, 'maxRetries', at, 0, 10, 0, fail);
  const concurrency = integer(raw, 'concurrency', at, 1, 1_024, 1, fail);
  const maxOutputBytes = integer(
    raw,
    'maxOutputBytes',
    at,
    1,
    WIRE_LIMITS.maxMessageBytes,
    DEFAULT_MAX_OUTPUT_BYTES,
    fail,
  );
  const grpcPort =
    raw['grpcPort'] === undefined ? undefined : integer(raw, 'grpcPort', at, 0, 65_535, 0, fail);
  const httpPort =
    raw['httpPort'] === undefined ? undefined : integer(raw, 'httpPort', at, 0, 65_535, 0, fail);

  const baseDir = context.baseDir ?? process.cwd();
  const cwdRaw = raw['cwd'] ?? '.';
  let cwd = baseDir;
  if (typeof cwdRaw !== 'string' || cwdRaw === '') fail([...at, 'cwd'], 'must be a directory path');
  else {
    cwd = resolve(baseDir, cwdRaw);
    if (!(context.isDirectory ?? isDirectory)(cwd)) fail([...at, 'cwd'], `${cwd} is not a directory`);
  }
  const env = processEnv(raw['env'], [...at, 'env'], context.env ?? process.env, fail);
  const args = stringList(raw['args'], [...at, 'args'], fail);
  const { command, scriptArgs } = program(raw, at, cwd, env, context, fail);

  const capabilities: Capability[] = [];
  const list = raw['capabilities'];
  if (!Array.isArray(list) || list.length === 0) {
    fail(
      [...at, 'capabilities'],
      'must be a list of at least one capability (a definition, or `catalog: <id>`)',
    );
  } else {
    const keys = new Set<string>();
    list.forEach((entry, index) => {
      const capability = compileHostCapability(entry, [...at, 'capabilities', index], concurrency, fail);
      if (!capability) return;
      if (keys.has(capability.key)) fail([...at, 'capabilities', index], `${capability.key} is listed twice`);
      keys.add(capability.key);
      capabilities.push(capability);
    });
  }
  if (count.issues > 0) return undefined;
  return {
    name,
    workerId,
    capabilities,
    command,
    args: [...scriptArgs, ...args],
    cwd,
    env,
    mode: mode as HostMode,
    timeoutMs,
    maxRetries,
    concurrency,
    maxOutputBytes,
    grpcPort,
    httpPort,
  };
}
