import { once } from 'node:events';
import type { JobEventInfo, JobInfo, JobState } from '../job-info.js';
import { JOB_STATES } from '../job-info.js';
import {
  JOB_SORTS,
  MAX_JOBS_PAGE,
  type JobSort,
  type ListJobsFilter,
  type SubmitJobOptions,
} from '../job-options.js';
import { inputOf, wholeInput } from './command-input.js';
import { ProgressBoard } from './job-progress.js';
import {
  commandLine,
  printJson,
  type CliClient,
  type CliIo,
  type CommandContext,
  type CommandLine,
  type OwnValues,
} from './run-cli.js';
import { UsageError } from './usage.js';

/** The options of `crank jobs`, besides those of every command. */
const JOB_OPTIONS = {
  priority: { type: 'string' },
  'max-attempts': { type: 'string' },
  backoff: { type: 'string' },
  delay: { type: 'string' },
  'run-at': { type: 'string' },
  'idempotency-key': { type: 'string' },
  wait: { type: 'boolean' },
  status: { type: 'string' },
  capability: { type: 'string' },
  'priority-min': { type: 'string' },
  'priority-max': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  sort: { type: 'string' },
  after: { type: 'string' },
} as const;

type JobsLine = CommandLine<OwnValues<typeof JOB_OPTIONS>>;

/** The options each action takes, besides the connection ones. */
const ACTION_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  submit: [
    'json',
    'file',
    'content-type',
    'version',
    'timeout',
    'priority',
    'max-attempts',
    'backoff',
    'delay',
    'run-at',
    'idempotency-key',
    'wait',
  ],
  get: [],
  cancel: [],
  retry: [],
  list: ['status', 'capability', 'priority-min', 'priority-max', 'from', 'to', 'limit', 'cursor', 'sort'],
  watch: ['capability', 'after'],
};

/** Options of every command, which any action takes. */
const CONNECTION_OPTIONS = new Set(['controller', 'data-dir', 'home', 'name', 'help']);

/**
 * `crank jobs <submit|get|list|watch|cancel|retry>`: jobs on the controller. Prints JSON; `list`
 * prints a table and `submit --wait` and `watch` a live progress bar when stdout is a terminal.
 * Exit status: `submit --wait` 0 only when the job completed; `watch` 130 once Ctrl-C ends it.
 */
export async function jobsCommand(context: CommandContext): Promise<number> {
  const line = commandLine(context, JOB_OPTIONS);
  const [action, ...args] = line.args;
  if (action === undefined)
    throw new UsageError(`jobs: name an action (${Object.keys(ACTION_OPTIONS).join(', ')})`);
  const allowed = ACTION_OPTIONS[action];
  if (allowed === undefined)
    throw new UsageError(
      `jobs: unknown action "${action}" (one of ${Object.keys(ACTION_OPTIONS).join(', ')})`,
    );
  for (const [name, value] of Object.entries({ ...line.options, ...line.own })) {
    if (value !== undefined && !CONNECTION_OPTIONS.has(name) && !allowed.includes(name))
      throw new UsageError(`jobs ${action}: takes no --${name}`);
  }
  const { io } = context;
  switch (action) {
    case 'submit':
      return submit(line, args, io);
    case 'list':
      return list(line, args, io);
    case 'watch':
      return watch(line, args, io);
    default:
      return byId(action as 'get' | 'cancel' | 'retry', line, args, io);
  }
}

/** `jobs submit <capability>`: queues a job; with --wait, follows it to its end. */
async function submit(line: JobsLine, args: string[], io: CliIo): Promise<number> {
  const [capability, extra] = args;
  if (capability === undefined)
    throw new UsageError("jobs submit: name the capability, e.g. crank jobs submit debug.echo --json '{}'");
  if (extra !== undefined) throw new UsageError(`jobs submit: one capability only (got also "${extra}")`);
  const options = submitOptions(line, io.signal);
  const input = await inputOf('jobs submit', line.options, io);
  let value: unknown;
  try {
    value = await wholeInput(input, options.contentType);
  } finally {
    if (input.kind === 'stream') input.stream.destroy();
  }
  return withClient(line, async (client) => {
    const job = await client.jobs.submit(capability, value, options);
    if (!line.own.wait) {
      printJson(io, jobJson(job));
      return 0;
    }
    // The history is left out: each line is one step of it.
    const board = io.stdout.isTTY ? new ProgressBoard(io.stdout) : undefined;
    const show = (current: JobInfo): void => {
      if (board) board.update(current);
      else io.stdout.write(`${JSON.stringify(jobJson({ ...current, history: [] }))}\n`);
    };
    const final = await client.jobs.wait(job, { signal: io.signal, onProgress: show });
    if (board) {
      board.update(final);
      printJson(io, jobJson({ ...final, history: [] }));
    } else {
      show(final);
    }
    return final.state === 'completed' ? 0 : 1;
  });
}

/** `jobs list`: one page, as a table on a terminal or JSON lines ending with `{nextCursor}`. */
async function list(line: JobsLine, args: string[], io: CliIo): Promise<number> {
  if (args.length > 0) throw new UsageError(`jobs list: takes no arguments (got "${args.join(' ')}")`);
  const filter = listFilter(line);
  return withClient(line, async (client) => {
    const page = await client.jobs.list(filter, { signal: io.signal });
    if (io.stdout.isTTY) {
      io.stdout.write(jobTable(page.jobs));
      if (page.nextCursor) io.stdout.write(`next page: --cursor ${page.nextCursor}\n`);
    } else {
      for (const job of page.jobs) await writeLine(io, jobJson(job));
      await writeLine(io, { nextCursor: page.nextCursor ?? null });
    }
    return 0;
  });
}

/** `jobs watch [id...]`: events until Ctrl-C, live on a terminal or as JSON lines. */
async function watch(line: JobsLine, ids: string[], io: CliIo): Promise<number> {
  const after = line.own.after;
  const filter = {
    ...(ids.length > 0 ? { ids } : {}),
    ...(line.own.capability !== undefined ? { capability: line.own.capability } : {}),
    ...(after !== undefined ? { afterEventId: whole('--after', after, 0) } : {}),
  };
  return withClient(line, async (client) => {
    const board = io.stdout.isTTY ? new ProgressBoard(io.stdout) : undefined;
    for await (const event of client.jobs.watch(filter, { signal: io.signal })) {
      if (board) board.update(event.job);
      else await writeLine(io, eventJson(event));
    }
    return 130; // the watch is endless: only Ctrl-C ends it
  });
}

/** `jobs get|cancel|retry <id>`: prints the job (with its history for `get`). */
async function byId(
  action: 'get' | 'cancel' | 'retry',
  line: JobsLine,
  args: string[],
  io: CliIo,
): Promise<number> {
  const [id, extra] = args;
  if (id === undefined)
    throw new UsageError(`jobs ${action}: name the job id, e.g. crank jobs ${action} <id>`);
  if (extra !== undefined) throw new UsageError(`jobs ${action}: one job id only (got also "${extra}")`);
  return withClient(line, async (client) => {
    printJson(io, jobJson(await client.jobs[action](id, { signal: io.signal })));
    return 0;
  });
}

async function withClient(line: JobsLine, run: (client: CliClient) => Promise<number>): Promise<number> {
  const client = await line.connect();
  try {
    return await run(client);
  } finally {
    client.close();
  }
}

function submitOptions(line: JobsLine, signal: AbortSignal): SubmitJobOptions {
  const { own, options } = line;
  if (own.delay !== undefined && own['run-at'] !== undefined)
    throw new UsageError('jobs submit: give --delay or --run-at, not both');
  const runAt =
    own.delay !== undefined
      ? new Date(Date.now() + whole('--delay', own.delay, 0))
      : own['run-at'] !== undefined
        ? date('--run-at', own['run-at'])
        : undefined;
  return {
    signal,
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(options['content-type'] !== undefined ? { contentType: options['content-type'] } : {}),
    ...(options.timeout !== undefined ? { timeoutMs: whole('--timeout', options.timeout, 1) } : {}),
    ...(own.priority !== undefined ? { priority: whole('--priority', own.priority, 0, 10) } : {}),
    ...(own['max-attempts'] !== undefined
      ? { maxAttempts: whole('--max-attempts', own['max-attempts'], 1) }
      : {}),
    ...(own.backoff !== undefined ? { backoffMs: whole('--backoff', own.backoff, 1) } : {}),
    ...(runAt !== undefined ? { runAt } : {}),
    ...(own['idempotency-key'] !== undefined ? { idempotencyKey: own['idempotency-key'] } : {}),
  };
}

function listFilter(line: JobsLine): ListJobsFilter {
  const { own } = line;
  const status = own.status
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const state of status ?? []) {
    if (!JOB_STATES.includes(state as JobState))
      throw new UsageError(`--status: "${state}" is not a job state (one of ${JOB_STATES.join(', ')})`);
  }
  if (own.sort !== undefined && !JOB_SORTS.includes(own.sort as JobSort))
    throw new UsageError(`--sort: must be one of ${JOB_SORTS.join(', ')} (got "${own.sort}")`);
  return {
    ...(status !== undefined ? { status: status as JobState[] } : {}),
    ...(own.capability !== undefined ? { capability: own.capability } : {}),
    ...(own['priority-min'] !== undefined
      ? { priorityMin: whole('--priority-min', own['priority-min'], 0, 10) }
      : {}),
    ...(own['priority-max'] !== undefined
      ? { priorityMax: whole('--priority-max', own['priority-max'], 1, 10) }
      : {}),
    ...(own.from !== undefined ? { from: date('--from', own.from) } : {}),
    ...(own.to !== undefined ? { to: date('--to', own.to) } : {}),
    ...(own.limit !== undefined ? { limit: whole('--limit', own.limit, 1, MAX_JOBS_PAGE) } : {}),
    ...(own.cursor !== undefined ? { cursor: own.cursor } : {}),
    ...(own.sort !== undefined ? { sort: own.sort as JobSort } : {}),
  };
}

/** A job as JSON: dates as ISO text, the error as `{code, message, details}`, bytes as base64. */
export function jobJson(job: JobInfo): Record<string, unknown> {
  const { output, history, ...rest } = job;
  return {
    ...rest,
    ...(Buffer.isBuffer(output) ? { outputBase64: output.toString('base64') } : { output }),
    ...(history.length > 0 ? { history } : {}),
  };
}

function eventJson(event: JobEventInfo): Record<string, unknown> {
  return { ...event, job: jobJson(event.job) };
}

const TABLE_COLUMNS: readonly [string, (job: JobInfo) => string][] = [
  ['ID', (job) => job.id],
  ['STATE', (job) => job.state],
  ['PRI', (job) => String(job.priority)],
  ['ATTEMPTS', (job) => `${job.attempts}/${job.maxAttempts}`],
  ['PROGRESS', (job) => `${Math.round((job.state === 'completed' ? 1 : job.progress) * 100)}%`],
  ['CAPABILITY', (job) => (job.versionRange ? `${job.capability}@${job.versionRange}` : job.capability)],
  ['CREATED', (job) => job.createdAt?.toISOString().replace(/\.\d{3}Z$/, 'Z') ?? ''],
];

/** The jobs as a table with a header, columns as wide as their widest cell. */
function jobTable(jobs: readonly JobInfo[]): string {
  const rows = [
    TABLE_COLUMNS.map(([title]) => title),
    ...jobs.map((job) => TABLE_COLUMNS.map(([, cell]) => cell(job))),
  ];
  const widths = TABLE_COLUMNS.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  return rows
    .map(
      (row) =>
        `${row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()}\n`,
    )
    .join('');
}

/** `text` as a whole number from `min` to `max`. */
function whole(option: string, text: string, min: number, max?: number): number {
  const value = Number(text);
  if (
    /^\d+$/.test(text) &&
    Number.isSafeInteger(value) &&
    value >= min &&
    (max === undefined || value <= max)
  )
    return value;
  const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
  throw new UsageError(`${option}: must be a whole number ${range} (got "${text}")`);
}

/** `text` as a Date: ISO 8601, e.g. 2025-01-31T12:00:00Z. */
function date(option: string, text: string): Date {
  const value = new Date(text);
  if (Number.isNaN(value.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(text))
    throw new UsageError(`${option}: must be an ISO 8601 date, e.g. 2025-01-31T12:00:00Z (got "${text}")`);
  return value;
}

/** Writes one compact JSON line, waiting for stdout to drain when its buffer is full. */
async function writeLine(io: CliIo, value: unknown): Promise<void> {
  if (!io.stdout.write(`${JSON.stringify(value)}\n`)) await once(io.stdout, 'drain', { signal: io.signal });
}
