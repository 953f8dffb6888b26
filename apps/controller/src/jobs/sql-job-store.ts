import { randomUUID } from 'node:crypto';
import { CrankError } from '@crank/capabilities';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { JobDatabase, JobEventsTable, JobTables, JobsTable } from './job-database.js';
import { JOB_STATES, TERMINAL_STATES, assertTransition, type JobState } from './job-state.js';
import type {
  AttemptOutcome,
  JobEventRecord,
  JobFilter,
  JobRecord,
  JobStore,
  JobSummary,
  NewJob,
  Percentiles,
} from './job-store.js';

type Db = Kysely<JobTables> | Transaction<JobTables>;
type JobRow = Selectable<JobsTable>;

/** The error a job's attempt gets when its lease ran out while it ran. */
const LEASE_EXPIRED = {
  code: 'UNAVAILABLE',
  message: "the attempt's lease expired: the controller or the worker running it died or hung",
};

const RUNNING: readonly JobState[] = ['assigned', 'processing'];

/**
 * The job store on kysely: one query layer, two dialects (SQLite embedded, PostgreSQL shared by
 * several controllers). Where the dialects differ (row locks), the difference is one clause.
 */
export class SqlJobStore implements JobStore {
  readonly dialect: 'sqlite' | 'postgres';
  private readonly db: Kysely<JobTables>;

  constructor(database: JobDatabase) {
    this.db = database.db;
    this.dialect = database.dialect;
  }

  async submit(job: NewJob, now: number): Promise<{ job: JobRecord; created: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      if (job.idempotencyKey) {
        const existing = await trx
          .selectFrom('jobs')
          .selectAll()
          .where('caller', '=', job.caller)
          .where('idempotencyKey', '=', job.idempotencyKey)
          .executeTakeFirst();
        if (existing) return { job: toRecord(existing), created: false };
      }
      const row: JobRow = {
        id: uuidv7({ msecs: now }),
        capability: job.capability,
        versionRange: job.range,
        state: 'pending',
        priority: job.priority,
        attempts: 0,
        maxAttempts: job.maxAttempts,
        timeoutMs: job.timeoutMs,
        backoffMs: job.backoffMs,
        runAt: job.runAt,
        inputType: job.input.contentType,
        inputData: job.input.data,
        outputType: null,
        outputData: null,
        errorCode: null,
        errorMessage: null,
        errorDetails: null,
        errorRetryable: 0,
        progress: 0,
        progressMessage: '',
        workerId: '',
        caller: job.caller,
        idempotencyKey: job.idempotencyKey,
        cancelRequested: 0,
        leaseToken: '',
        leaseExpiresAt: 0,
        createdAt: now,
        updatedAt: now,
        startedAt: null,
        finishedAt: null,
      };
      await trx.insertInto('jobs').values(row).execute();
      await addEvent(trx, { jobId: row.id, at: now, kind: 'state', fromState: null, toState: 'pending' });
      return { job: toRecord(row), created: true };
    });
  }

  async claim(
    capabilities: readonly string[],
    now: number,
    graceMs: number,
    limit = 1,
  ): Promise<JobRecord[]> {
    if (capabilities.length === 0 || limit < 1) return [];
    return this.db.transaction().execute(async (trx) => {
      let next = trx
        .selectFrom('jobs')
        .select('id')
        .where('state', '=', 'pending')
        .where('runAt', '<=', now)
        .where('capability', 'in', [...capabilities])
        .orderBy('priority', 'desc')
        .orderBy('runAt', 'asc')
        .orderBy('id', 'asc')
        .limit(limit);
      // Several controllers claim at once: each skips rows another is taking. PostgreSQL must run
      // that subquery once (ARRAY(...) is an init plan): under `IN`, the planner may run it again
      // per row, and each run, skipping the rows the last one locked, takes more.
      if (this.dialect === 'postgres') next = next.forUpdate().skipLocked();
      const rows = await trx
        .updateTable('jobs')
        .set((eb) => ({
          state: 'assigned',
          attempts: eb('attempts', '+', 1),
          // One token per job: a fresh UUID from the database would cost a function per dialect.
          leaseToken: sql<string>`${randomUUID()} || '-' || ${sql.ref('id')}`,
          leaseExpiresAt: eb('timeoutMs', '+', now + graceMs),
          cancelRequested: 0,
          workerId: '',
          updatedAt: now,
        }))
        .where((eb) =>
          this.dialect === 'postgres'
            ? eb('id', '=', sql<string>`any(array(${next}))`)
            : eb('id', 'in', next),
        )
        .where('state', '=', 'pending')
        .returningAll()
        .execute();
      if (rows.length === 0) return [];
      await trx
        .insertInto('jobEvents')
        .values(
          rows.map((row) => ({
            ...EVENT_DEFAULTS,
            jobId: row.id,
            at: now,
            kind: 'state',
            fromState: 'pending',
            toState: 'assigned',
            attempt: row.attempts,
          })),
        )
        .execute();
      // The most urgent first, as the query chose them.
      return rows
        .map(toRecord)
        .sort((a, b) => b.priority - a.priority || a.runAt - b.runAt || (a.id < b.id ? -1 : 1));
    });
  }

  async markProcessing(id: string, leaseToken: string, workerId: string, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('jobs')
        .set((eb) => ({
          state: 'processing',
          workerId,
          updatedAt: now,
          startedAt: eb.fn.coalesce('startedAt', eb.val(now)),
        }))
        .where('id', '=', id)
        .where('leaseToken', '=', leaseToken)
        .where('state', '=', 'assigned')
        .returning(['attempts'])
        .executeTakeFirst();
      if (!row) return false;
      await addEvent(trx, {
        jobId: id,
        at: now,
        kind: 'state',
        fromState: 'assigned',
        toState: 'processing',
        workerId,
        attempt: row.attempts,
      });
      return true;
    });
  }

  async finish(
    id: string,
    leaseToken: string,
    outcome: AttemptOutcome,
    now: number,
    dispatch?: { workerId: string; at: number },
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const current = await this.lockRow(trx, id);
      if (!current || current.leaseToken !== leaseToken || !RUNNING.includes(current.state as JobState)) {
        return false;
      }
      let from = current.state as JobState;
      let workerId = current.workerId;
      if (dispatch && from === 'assigned') {
        // The attempt reached a worker and ended before that was written: both lines, in order.
        await addEvent(trx, {
          jobId: id,
          at: dispatch.at,
          kind: 'state',
          fromState: 'assigned',
          toState: 'processing',
          workerId: dispatch.workerId,
          attempt: current.attempts,
        });
        from = 'processing';
        workerId = dispatch.workerId;
      }
      assertTransition(from, outcome.state);
      const terminal = outcome.state !== 'pending';
      const error = 'error' in outcome ? outcome.error : undefined;
      await trx
        .updateTable('jobs')
        .set({
          state: outcome.state,
          updatedAt: now,
          leaseToken: '',
          leaseExpiresAt: 0,
          ...(outcome.state === 'completed'
            ? { outputType: outcome.output.contentType, outputData: outcome.output.data, progress: 1 }
            : {}),
          ...(error
            ? {
                errorCode: error.code,
                errorMessage: error.message,
                errorDetails: error.details ? JSON.stringify(error.details) : null,
                errorRetryable: error.retryable ? 1 : 0,
              }
            : {}),
          ...(outcome.state === 'pending' ? { runAt: outcome.runAt } : {}),
          ...(terminal ? { finishedAt: now } : {}),
          workerId,
          ...(current.startedAt === null && dispatch ? { startedAt: dispatch.at } : {}),
        })
        .where('id', '=', id)
        .execute();
      await addEvent(trx, {
        jobId: id,
        at: now,
        kind: 'state',
        fromState: from,
        toState: outcome.state,
        workerId,
        attempt: current.attempts,
        errorCode: error?.code ?? '',
        errorMessage: error?.message ?? '',
      });
      return true;
    });
  }

  async progress(
    id: string,
    workerId: string,
    fraction: number,
    message: string,
    now: number,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('jobs')
        .set({ progress: fraction, progressMessage: message, updatedAt: now })
        .where('id', '=', id)
        .where('workerId', '=', workerId)
        .where('state', '=', 'processing')
        .returning(['attempts'])
        .executeTakeFirst();
      if (!row) return false;
      await addEvent(trx, {
        jobId: id,
        at: now,
        kind: 'progress',
        fromState: 'processing',
        toState: 'processing',
        workerId,
        attempt: row.attempts,
        progress: fraction,
        message,
      });
      return true;
    });
  }

  async requestCancel(id: string, now: number): Promise<JobRecord | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const current = await this.lockRow(trx, id);
      if (!current) return undefined;
      const state = current.state as JobState;
      if (state === 'pending') {
        const error = { code: 'CANCELLED', message: 'cancelled before it ran' };
        await trx
          .updateTable('jobs')
          .set({
            state: 'cancelled',
            updatedAt: now,
            finishedAt: now,
            errorCode: error.code,
            errorMessage: error.message,
          })
          .where('id', '=', id)
          .execute();
        await addEvent(trx, {
          jobId: id,
          at: now,
          kind: 'state',
          fromState: 'pending',
          toState: 'cancelled',
          attempt: current.attempts,
          errorCode: error.code,
          errorMessage: error.message,
        });
      } else if (RUNNING.includes(state)) {
        await trx
          .updateTable('jobs')
          .set({ cancelRequested: 1, updatedAt: now })
          .where('id', '=', id)
          .execute();
      }
      const after = await trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return toRecord(after);
    });
  }

  async cancelRequested(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('id', 'in', [...ids])
      .where('cancelRequested', '=', 1)
      .execute();
    return rows.map((row) => row.id);
  }

  async retry(id: string, now: number): Promise<JobRecord> {
    return this.db.transaction().execute(async (trx) => {
      const current = await this.lockRow(trx, id);
      if (!current) throw new CrankError('NOT_FOUND', `job "${id}" does not exist`);
      const state = current.state as JobState;
      if (state !== 'failed' && state !== 'dead_letter') {
        throw new CrankError(
          'FAILED_PRECONDITION',
          `job "${id}" is ${state}; only failed or dead_letter jobs can be retried`,
          {
            details: { state },
          },
        );
      }
      await trx
        .updateTable('jobs')
        .set({
          state: 'pending',
          // A new round of attempts, from now.
          attempts: 0,
          runAt: now,
          updatedAt: now,
          finishedAt: null,
          errorCode: null,
          errorMessage: null,
          errorDetails: null,
          errorRetryable: 0,
          progress: 0,
          progressMessage: '',
        })
        .where('id', '=', id)
        .execute();
      await addEvent(trx, {
        jobId: id,
        at: now,
        kind: 'state',
        fromState: state,
        toState: 'pending',
        message: 'retried',
      });
      const after = await trx.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return toRecord(after);
    });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<Map<string, JobRecord>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
    return new Map(rows.map((row) => [row.id, toRecord(row)]));
  }

  async timeline(id: string): Promise<JobEventRecord[]> {
    const rows = await this.db
      .selectFrom('jobEvents')
      .selectAll()
      .where('jobId', '=', id)
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toEvent);
  }

  async list(filter: JobFilter): Promise<{ jobs: JobRecord[]; nextCursor: string | undefined }> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
    const order = filter.order ?? 'created_desc';
    let query = this.db.selectFrom('jobs').selectAll();
    if (filter.states && filter.states.length > 0) query = query.where('state', 'in', [...filter.states]);
    if (filter.capability) query = query.where('capability', '=', filter.capability);
    if (filter.priorityMin !== undefined) query = query.where('priority', '>=', filter.priorityMin);
    if (filter.priorityMax !== undefined) query = query.where('priority', '<=', filter.priorityMax);
    if (filter.from !== undefined) query = query.where('createdAt', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('createdAt', '<', filter.to);
    const after = filter.cursor ? decodeCursor(filter.cursor, order) : undefined;
    if (order === 'created_desc') {
      if (after) {
        query = query.where((eb) =>
          eb.or([
            eb('createdAt', '<', after.createdAt),
            eb.and([eb('createdAt', '=', after.createdAt), eb('id', '<', after.id)]),
          ]),
        );
      }
      query = query.orderBy('createdAt', 'desc').orderBy('id', 'desc');
    } else if (order === 'created_asc') {
      if (after) {
        query = query.where((eb) =>
          eb.or([
            eb('createdAt', '>', after.createdAt),
            eb.and([eb('createdAt', '=', after.createdAt), eb('id', '>', after.id)]),
          ]),
        );
      }
      query = query.orderBy('createdAt', 'asc').orderBy('id', 'asc');
    } else {
      if (after) {
        const priority = after.priority ?? 0;
        query = query.where((eb) =>
          eb.or([
            eb('priority', '<', priority),
            eb.and([eb('priority', '=', priority), eb('createdAt', '>', after.createdAt)]),
            eb.and([
              eb('priority', '=', priority),
              eb('createdAt', '=', after.createdAt),
              eb('id', '>', after.id),
            ]),
          ]),
        );
      }
      query = query.orderBy('priority', 'desc').orderBy('createdAt', 'asc').orderBy('id', 'asc');
    }
    const rows = await query.limit(limit + 1).execute();
    const page = rows.slice(0, limit).map(toRecord);
    const last = page.at(-1);
    return {
      jobs: page,
      nextCursor: rows.length > limit && last ? encodeCursor(last, order) : undefined,
    };
  }

  async eventsAfter(afterId: number, limit: number): Promise<JobEventRecord[]> {
    const rows = await this.db
      .selectFrom('jobEvents')
      .selectAll()
      .where('id', '>', afterId)
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toEvent);
  }

  async lastEventId(): Promise<number> {
    const row = await this.db
      .selectFrom('jobEvents')
      .select((eb) => eb.fn.max('id').as('last'))
      .executeTakeFirst();
    return Number(row?.last ?? 0);
  }

  async requeueExpired(now: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      let expired = trx
        .selectFrom('jobs')
        .selectAll()
        .where('state', 'in', [...RUNNING])
        .where('leaseExpiresAt', '<', now)
        .limit(500);
      if (this.dialect === 'postgres') expired = expired.forUpdate().skipLocked();
      const rows = await expired.execute();
      for (const row of rows) {
        const last = row.attempts >= row.maxAttempts;
        const to: JobState = last ? 'dead_letter' : 'pending';
        await trx
          .updateTable('jobs')
          .set({
            state: to,
            leaseToken: '',
            leaseExpiresAt: 0,
            updatedAt: now,
            errorCode: LEASE_EXPIRED.code,
            errorMessage: LEASE_EXPIRED.message,
            errorRetryable: 1,
            ...(last ? { finishedAt: now } : { runAt: now }),
          })
          .where('id', '=', row.id)
          .execute();
        await addEvent(trx, {
          jobId: row.id,
          at: now,
          kind: 'state',
          fromState: row.state,
          toState: to,
          workerId: row.workerId,
          attempt: row.attempts,
          errorCode: LEASE_EXPIRED.code,
          errorMessage: LEASE_EXPIRED.message,
        });
      }
      return rows.length;
    });
  }

  async purgeFinished(before: number, batch: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('jobs')
        .select('id')
        .where('state', 'in', [...TERMINAL_STATES])
        .where('finishedAt', '<', before)
        .limit(batch)
        .execute();
      const ids = rows.map((row) => row.id);
      if (ids.length === 0) return 0;
      await trx.deleteFrom('jobEvents').where('jobId', 'in', ids).execute();
      await trx.deleteFrom('jobs').where('id', 'in', ids).execute();
      return ids.length;
    });
  }

  async summary(now: number, windowMs: number): Promise<JobSummary> {
    const byState = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
    const counts = await this.db
      .selectFrom('jobs')
      .select(['state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy('state')
      .execute();
    for (const row of counts) byState[row.state as JobState] = Number(row.count);
    const depth = await this.db
      .selectFrom('jobs')
      .select(['capability', (eb) => eb.fn.countAll<number>().as('count')])
      .where('state', '=', 'pending')
      .where('runAt', '<=', now)
      .groupBy('capability')
      .execute();
    const finished = await this.db
      .selectFrom('jobs')
      .select(['state', 'createdAt', 'startedAt', 'finishedAt'])
      .where('finishedAt', '>=', now - windowMs)
      .orderBy('finishedAt', 'desc')
      .limit(10_000)
      .execute();
    const ended = finished.filter((row) => row.state !== 'cancelled');
    const completed = ended.filter((row) => row.state === 'completed');
    return {
      byState,
      queueDepth: Object.fromEntries(depth.map((row) => [row.capability, Number(row.count)])),
      successRate: ended.length === 0 ? undefined : completed.length / ended.length,
      queueWaitMs: percentiles(
        finished
          .filter((row) => row.startedAt !== null)
          .map((row) => (row.startedAt as number) - row.createdAt),
      ),
      processingMs: percentiles(
        completed
          .filter((row) => row.startedAt !== null)
          .map((row) => (row.finishedAt as number) - (row.startedAt as number)),
      ),
      windowMs,
    };
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** The row, locked for the rest of the transaction where the dialect has row locks. */
  private async lockRow(trx: Transaction<JobTables>, id: string): Promise<JobRow | undefined> {
    let query = trx.selectFrom('jobs').selectAll().where('id', '=', id);
    if (this.dialect === 'postgres') query = query.forUpdate();
    return query.executeTakeFirst();
  }
}

type NewEvent = Omit<
  JobEventsTable,
  'id' | 'workerId' | 'attempt' | 'errorCode' | 'errorMessage' | 'progress' | 'message'
> &
  Partial<
    Pick<JobEventsTable, 'workerId' | 'attempt' | 'errorCode' | 'errorMessage' | 'progress' | 'message'>
  >;

const EVENT_DEFAULTS = {
  workerId: '',
  attempt: 0,
  errorCode: '',
  errorMessage: '',
  progress: 0,
  message: '',
};

async function addEvent(db: Db, event: NewEvent): Promise<void> {
  await db
    .insertInto('jobEvents')
    .values({ ...EVENT_DEFAULTS, ...event })
    .execute();
}

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    capability: row.capability,
    range: row.versionRange,
    state: row.state as JobState,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    timeoutMs: Number(row.timeoutMs),
    backoffMs: Number(row.backoffMs),
    runAt: Number(row.runAt),
    input: { contentType: row.inputType, data: Buffer.from(row.inputData) },
    output:
      row.outputType === null || row.outputData === null
        ? undefined
        : { contentType: row.outputType, data: Buffer.from(row.outputData) },
    error:
      row.errorCode === null
        ? undefined
        : {
            code: row.errorCode,
            message: row.errorMessage ?? '',
            ...(row.errorDetails ? { details: JSON.parse(row.errorDetails) as Record<string, unknown> } : {}),
            retryable: row.errorRetryable === 1,
          },
    progress: row.progress,
    progressMessage: row.progressMessage,
    workerId: row.workerId,
    caller: row.caller,
    idempotencyKey: row.idempotencyKey,
    cancelRequested: row.cancelRequested === 1,
    leaseToken: row.leaseToken,
    leaseExpiresAt: Number(row.leaseExpiresAt),
    createdAt: Number(row.createdAt),
    updatedAt: Number(row.updatedAt),
    startedAt: row.startedAt === null ? undefined : Number(row.startedAt),
    finishedAt: row.finishedAt === null ? undefined : Number(row.finishedAt),
  };
}

function toEvent(row: Selectable<JobEventsTable>): JobEventRecord {
  return {
    id: Number(row.id),
    jobId: row.jobId,
    at: Number(row.at),
    kind: row.kind === 'progress' ? 'progress' : 'state',
    from: (row.fromState ?? undefined) as JobState | undefined,
    to: row.toState as JobState,
    workerId: row.workerId,
    attempt: row.attempt,
    errorCode: row.errorCode,
    errorMessage: row.errorMessage,
    progress: row.progress,
    message: row.message,
  };
}

interface Cursor {
  createdAt: number;
  id: string;
  priority?: number;
}

function encodeCursor(job: JobRecord, order: string): string {
  const cursor: Cursor & { order: string } = {
    order,
    createdAt: job.createdAt,
    id: job.id,
    priority: job.priority,
  };
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** @throws CrankError INVALID_INPUT when the cursor is not one this store made for this order */
function decodeCursor(text: string, order: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<
      Cursor & { order: string }
    >;
    if (value.order === order && typeof value.createdAt === 'number' && typeof value.id === 'string') {
      return { createdAt: value.createdAt, id: value.id, priority: Number(value.priority ?? 0) };
    }
  } catch {
    // fall through
  }
  throw new CrankError(
    'INVALID_INPUT',
    'cursor: is not a cursor of this listing (use nextCursor as given, with the same sort)',
  );
}

function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: undefined, p95: undefined, p99: undefined };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}
