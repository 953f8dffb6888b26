import { PassThrough, Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { JobOrder, JobStatus } from '@crank/proto';
import { errorInfo, eventually, FakeJobController, jsonPayload } from '../../test/fake-job-controller.js';
import { jobsCommand } from './jobs-command.js';
import { runCli, type CliIo } from './run-cli.js';

interface TestIo extends CliIo {
  out(): string;
  err(): string;
  /** Ctrl-C. */
  interrupt(): void;
}

/** Every io made, so that a command a failed test left running is stopped after it. */
const made: TestIo[] = [];

afterEach(() => {
  for (const io of made.splice(0)) io.interrupt();
});

/** Buffers for the process's streams; `tty` makes stdout a terminal 80 columns wide. */
function testIo(options: { tty?: boolean; stdin?: string } = {}): TestIo {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const interrupted = new AbortController();
  const stdin =
    options.stdin === undefined
      ? Object.assign(Readable.from([]), { isTTY: true })
      : Readable.from([Buffer.from(options.stdin)]);
  const io: TestIo = {
    stdin,
    stdout: options.tty ? Object.assign(stdout, { isTTY: true, columns: 80 }) : stdout,
    stderr,
    env: {},
    signal: interrupted.signal,
    out: () => out,
    err: () => err,
    interrupt: () => interrupted.abort(),
  };
  made.push(io);
  return io;
}

/**
 * What a terminal shows after `output`: applies `\n`, `\r`, cursor up (`ESC[nA`) and clear to the
 * end of the screen (`ESC[J`), the moves the progress board makes.
 */
function screen(output: string): string[] {
  // The escape character, spelled out: a control character in a regex literal is a lint error.
  const csi = new RegExp(`^${String.fromCharCode(0x1b)}\\[(\\d*)([AJ])`);
  const lines = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < output.length;) {
    const escape = csi.exec(output.slice(i));
    if (escape) {
      if (escape[2] === 'A') {
        row = Math.max(0, row - Number(escape[1] || 1));
      } else {
        lines.length = row + 1;
        lines[row] = (lines[row] ?? '').slice(0, col);
      }
      i += escape[0].length;
      continue;
    }
    const char = output[i++] as string;
    if (char === '\n') {
      row += 1;
      col = 0;
      lines[row] ??= '';
    } else if (char === '\r') {
      col = 0;
    } else {
      const line = lines[row] ?? '';
      lines[row] = line.slice(0, col) + char + line.slice(col + 1);
      col += 1;
    }
  }
  return lines.filter((line, index) => line !== '' || index < lines.length - 1);
}

let fake: FakeJobController;

beforeAll(async () => {
  fake = await FakeJobController.start();
});

afterAll(() => {
  fake.close();
});

function crank(argv: string[], io: CliIo): Promise<number> {
  return runCli(argv, io, (_command, context) =>
    jobsCommand({ ...context, connect: () => Promise.resolve(fake.client()) }),
  );
}

/** The lines of `text` parsed as JSON. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('crank jobs submit', () => {
  it('sends the options and prints the queued job', async () => {
    const io = testIo();
    const before = Date.now();
    const code = await crank(
      [
        'jobs',
        'submit',
        'report.build',
        '--json',
        '{"month":"2025-01"}',
        '--version',
        '^2',
        '--priority',
        '9',
        '--max-attempts',
        '2',
        '--timeout',
        '60000',
        '--backoff',
        '500',
        '--delay',
        '60000',
        '--idempotency-key',
        'r-2025-01',
      ],
      io,
    );

    expect(code).toBe(0);
    const sent = fake.submits.at(-1);
    expect(sent).toMatchObject({
      capability: 'report.build',
      version: '^2',
      priority: 9,
      maxAttempts: 2,
      timeoutMs: 60_000,
      backoffMs: 500,
      idempotencyKey: 'r-2025-01',
    });
    expect(sent?.runAtUnixMs).toBeGreaterThanOrEqual(before + 60_000);
    expect(JSON.parse(io.out())).toMatchObject({
      id: expect.any(String),
      state: 'pending',
      capability: 'report.build',
      priority: 9,
      createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
  });

  it('reads piped stdin, and takes --run-at as the start', async () => {
    await expect(
      crank(
        ['jobs', 'submit', 'debug.echo', '--run-at', '2030-01-01T00:00:00Z'],
        testIo({ stdin: '{"message":"piped"}' }),
      ),
    ).resolves.toBe(0);

    const sent = fake.submits.at(-1);
    expect(JSON.parse(Buffer.from(sent?.input?.data ?? []).toString())).toEqual({ message: 'piped' });
    expect(sent).toMatchObject({ priority: 5, runAtUnixMs: Date.parse('2030-01-01T00:00:00Z') });
  });

  it('with --wait off a terminal, prints the job at each step as one JSON line and exits 0 once completed', async () => {
    const io = testIo();
    const watched = fake.watches.length;
    const run = crank(['jobs', 'submit', 'debug.echo', '--json', '{}', '--wait'], io);
    const id = await watchedJob(watched);

    fake.transition(id, 'assigned');
    fake.progress(id, 0.5, 'half');
    fake.transition(id, 'completed', { output: jsonPayload({ echoed: true }) });

    await expect(run).resolves.toBe(0);
    const lines = jsonLines(io.out());
    expect(lines.map((l) => [l['state'], l['progress']])).toEqual([
      ['pending', 0],
      ['assigned', 0],
      ['assigned', 0.5],
      ['completed', 0.5],
    ]);
    expect(lines.at(-1)).toMatchObject({ id, output: { echoed: true } });
    expect(lines.every((l) => !('history' in l))).toBe(true);
  });

  it('with --wait on a terminal, draws a live progress bar, prints the final job and exits 1 when it failed', async () => {
    const io = testIo({ tty: true });
    const watched = fake.watches.length;
    const run = crank(['jobs', 'submit', 'debug.echo', '--json', '{}', '--wait'], io);
    const id = await watchedJob(watched);

    fake.transition(id, 'processing');
    fake.progress(id, 0.5, 'resizing');
    await eventually(() => screen(io.out()).at(-1) === `${id} [#####.....]  50% processing resizing`);
    fake.transition(id, 'failed', { error: errorInfo('INVALID_INPUT', 'no pages') });

    await expect(run).resolves.toBe(1);
    const shown = screen(io.out());
    expect(shown[0]).toBe(`${id} [#####.....]  50% failed INVALID_INPUT: no pages`);
    expect(JSON.parse(shown.slice(1).join('\n'))).toMatchObject({
      id,
      state: 'failed',
      error: { code: 'INVALID_INPUT', message: 'no pages' },
    });
    expect(io.out()).toContain('\r');
  });

  it('exits 130 when Ctrl-C stops the wait', async () => {
    const io = testIo();
    const watched = fake.watches.length;
    const run = crank(['jobs', 'submit', 'debug.echo', '--wait'], io);
    await watchedJob(watched);

    io.interrupt();

    await expect(run).resolves.toBe(130);
    expect(io.err()).toBe('crank: cancelled\n');
  });

  it.each([
    [['--priority', '11'], '--priority: must be a whole number from 0 to 10 (got "11")'],
    [['--delay', '5', '--run-at', '2030-01-01T00:00:00Z'], 'jobs submit: give --delay or --run-at, not both'],
    [['--run-at', 'tomorrow'], '--run-at: must be an ISO 8601 date'],
    [['--status', 'failed'], 'jobs submit: takes no --status'],
  ])('exits 2 for %j', async (options, message) => {
    const io = testIo();
    const before = fake.submits.length;

    await expect(crank(['jobs', 'submit', 'debug.echo', ...options], io)).resolves.toBe(2);
    expect(io.err()).toMatch(new RegExp(`^crank: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(fake.submits).toHaveLength(before);
  });
});

describe('crank jobs get, cancel, retry', () => {
  it('get prints the job with its timeline', async () => {
    const { id } = fake.put({});
    fake.transition(id, 'assigned', { workerId: 'w7' });
    const io = testIo();

    await expect(crank(['jobs', 'get', id], io)).resolves.toBe(0);

    const printed = JSON.parse(io.out()) as { state: string; history: { from?: string; to: string }[] };
    expect(printed.state).toBe('assigned');
    expect(printed.history.map((t) => [t.from, t.to])).toEqual([
      [undefined, 'pending'],
      ['pending', 'assigned'],
    ]);
  });

  it('prints the controller error and exits 1 for an unknown job', async () => {
    const io = testIo();

    await expect(crank(['jobs', 'get', 'nope'], io)).resolves.toBe(1);
    expect(JSON.parse(io.err())).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('cancel prints the cancelled job; retry of a pending one exits 1 with FAILED_PRECONDITION', async () => {
    const { id } = fake.put({});
    const cancelled = testIo();
    await expect(crank(['jobs', 'cancel', id], cancelled)).resolves.toBe(0);
    expect(JSON.parse(cancelled.out())).toMatchObject({ id, state: 'cancelled' });

    const pending = fake.put({});
    const refused = testIo();
    await expect(crank(['jobs', 'retry', pending.id], refused)).resolves.toBe(1);
    expect(JSON.parse(refused.err())).toMatchObject({ error: { code: 'FAILED_PRECONDITION' } });
  });

  it.each([
    [['jobs'], 'jobs: name an action'],
    [['jobs', 'frob'], 'jobs: unknown action "frob"'],
    [['jobs', 'get'], 'jobs get: name the job id'],
    [['jobs', 'cancel', 'a', 'b'], 'jobs cancel: one job id only (got also "b")'],
  ])('exits 2 for %j', async (argv, message) => {
    const io = testIo();

    await expect(crank(argv, io)).resolves.toBe(2);
    expect(io.err()).toContain(`crank: ${message}`);
  });
});

describe('crank jobs list', () => {
  it('sends the filter and prints one JSON line per job, then the next cursor, off a terminal', async () => {
    const a = fake.put({ capability: 'report.build', priority: 7 });
    const b = fake.put({ capability: 'report.build', status: JobStatus.JOB_STATUS_FAILED });
    fake.onList = () => ({ jobs: [a, b], nextPageToken: 'page-2' });
    const io = testIo();

    const code = await crank(
      [
        'jobs',
        'list',
        '--status',
        'pending,failed',
        '--capability',
        'report.build',
        '--priority-min',
        '2',
        '--priority-max',
        '9',
        '--from',
        '2025-01-01T00:00:00Z',
        '--to',
        '2025-02-01',
        '--limit',
        '2',
        '--cursor',
        'page-1',
        '--sort',
        'created_asc',
      ],
      io,
    );

    expect(code).toBe(0);
    expect(fake.lists.at(-1)).toEqual({
      statuses: [JobStatus.JOB_STATUS_PENDING, JobStatus.JOB_STATUS_FAILED],
      capability: 'report.build',
      minPriority: 2,
      maxPriority: 9,
      createdAfterUnixMs: Date.parse('2025-01-01T00:00:00Z'),
      createdBeforeUnixMs: Date.parse('2025-02-01'),
      pageSize: 2,
      pageToken: 'page-1',
      order: JobOrder.JOB_ORDER_CREATED_ASC,
    });
    const lines = jsonLines(io.out());
    expect(lines.map((l) => [l['id'], l['state']])).toEqual([
      [a.id, 'pending'],
      [b.id, 'failed'],
      [undefined, undefined],
    ]);
    expect(lines.at(-1)).toEqual({ nextCursor: 'page-2' });
  });

  it('ends with nextCursor null on the last page', async () => {
    fake.onList = () => ({ jobs: [], nextPageToken: '' });
    const io = testIo();

    await expect(crank(['jobs', 'list'], io)).resolves.toBe(0);
    expect(jsonLines(io.out())).toEqual([{ nextCursor: null }]);
  });

  it('prints a table on a terminal, with the option for the next page', async () => {
    const job = fake.put({
      capability: 'report.build',
      versionRange: '^2',
      priority: 7,
      attempts: 1,
      progress: 0.25,
      createdAtUnixMs: Date.parse('2025-01-31T12:00:00.123Z'),
    });
    fake.onList = () => ({ jobs: [job], nextPageToken: 'page-2' });
    const io = testIo({ tty: true });

    await expect(crank(['jobs', 'list'], io)).resolves.toBe(0);
    const [header, row, next] = io.out().split('\n');
    expect(header?.split(/\s+/)).toEqual([
      'ID',
      'STATE',
      'PRI',
      'ATTEMPTS',
      'PROGRESS',
      'CAPABILITY',
      'CREATED',
    ]);
    expect(row?.split(/\s+/)).toEqual([
      job.id,
      'pending',
      '7',
      '1/3',
      '25%',
      'report.build@^2',
      '2025-01-31T12:00:00Z',
    ]);
    expect(next).toBe('next page: --cursor page-2');
  });

  it.each([
    [['--status', 'done'], '--status: "done" is not a job state'],
    [['--sort', 'newest'], '--sort: must be one of created_desc, created_asc, priority_desc'],
    [['--limit', '0'], '--limit: must be a whole number from 1 to 500 (got "0")'],
    [['--priority-max', '0'], '--priority-max: must be a whole number from 1 to 10 (got "0")'],
    [['--from', 'yesterday'], '--from: must be an ISO 8601 date'],
    [['--wait'], 'jobs list: takes no --wait'],
  ])('exits 2 for %j', async (options, message) => {
    const io = testIo();

    await expect(crank(['jobs', 'list', ...options], io)).resolves.toBe(2);
    expect(io.err()).toContain(`crank: ${message}`);
  });
});

describe('crank jobs watch', () => {
  it('prints one JSON event per line off a terminal, and exits 130 on Ctrl-C with the stream cancelled', async () => {
    const job = fake.put({ capability: 'report.build' });
    const watched = fake.watches.length;
    const io = testIo();
    const created = job.history[0]?.eventId ?? 0;
    const run = crank(
      ['jobs', 'watch', job.id, '--capability', 'report.build', '--after', String(created)],
      io,
    );
    await eventually(() => fake.watches.length === watched + 1);

    const assigned = fake.transition(job.id, 'assigned');
    fake.progress(job.id, 0.1, 'started');
    await eventually(() => io.out().split('\n').length === 3);
    io.interrupt();

    await expect(run).resolves.toBe(130);
    expect(fake.watches[watched]?.request).toEqual({
      capability: 'report.build',
      jobIds: [job.id],
      afterEventId: created,
    });
    const lines = jsonLines(io.out());
    expect(lines[0]).toMatchObject({
      eventId: assigned.eventId,
      kind: 'state',
      previousState: 'pending',
      job: { id: job.id, state: 'assigned' },
    });
    expect(lines[1]).toMatchObject({ kind: 'progress', job: { progress: 0.1, progressMessage: 'started' } });
    await eventually(() => fake.watches[watched]?.cancelled === true);
  });

  it('keeps one live line per running job on a terminal; an ended job leaves its last line above', async () => {
    const a = fake.put({ capability: 'board.test' });
    const b = fake.put({ capability: 'board.test' });
    const watched = fake.watches.length;
    const io = testIo({ tty: true });
    const run = crank(['jobs', 'watch', '--capability', 'board.test'], io);
    await eventually(() => fake.watches.length === watched + 1);

    fake.transition(a.id, 'processing');
    fake.transition(b.id, 'processing');
    fake.progress(a.id, 0.3, 'a going');
    fake.progress(b.id, 0.8, 'b going');
    fake.transition(a.id, 'completed');
    await eventually(
      () => screen(io.out()).length === 2 && screen(io.out())[0]?.includes('completed') === true,
    );
    io.interrupt();

    await expect(run).resolves.toBe(130);
    expect(screen(io.out())).toEqual([
      `${a.id} [##########] 100% completed a going`,
      `${b.id} [########..]  80% processing b going`,
    ]);
  });
});

/** The id of the job `submit --wait` queued, once its watch (the one after `watched`) is open. */
async function watchedJob(watched: number): Promise<string> {
  await eventually(() => fake.watches.length === watched + 1);
  const id = fake.watches[watched]?.request.jobIds[0];
  if (id === undefined) throw new Error('the watch names no job');
  return id;
}
