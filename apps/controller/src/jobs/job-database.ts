import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, sql, type Generated } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';

/** The `jobs` table; columns are snake_case in SQL (CamelCasePlugin maps them). */
export interface JobsTable {
  id: string;
  capability: string;
  versionRange: string;
  state: string;
  priority: number;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  backoffMs: number;
  runAt: number;
  inputType: string;
  inputData: Buffer;
  outputType: string | null;
  outputData: Buffer | null;
  errorCode: string | null;
  errorMessage: string | null;
  errorDetails: string | null;
  errorRetryable: number;
  progress: number;
  progressMessage: string;
  workerId: string;
  caller: string;
  idempotencyKey: string;
  cancelRequested: number;
  leaseToken: string;
  leaseExpiresAt: number;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** The `job_events` table: one line per transition or progress report. */
export interface JobEventsTable {
  id: Generated<number>;
  jobId: string;
  at: number;
  kind: string;
  fromState: string | null;
  toState: string;
  workerId: string;
  attempt: number;
  errorCode: string;
  errorMessage: string;
  progress: number;
  message: string;
}

/** The `controllers` table: the controllers sharing a PostgreSQL store, with their last beat. */
export interface ControllersTable {
  id: string;
  address: string;
  heartbeatAt: number;
}

/** The `cluster_offers` table: what each controller's workers offer, for the others to route to. */
export interface ClusterOffersTable {
  controllerId: string;
  workerId: string;
  capability: string;
  version: string;
  ready: number;
  updatedAt: number;
}

export interface JobTables {
  jobs: JobsTable;
  jobEvents: JobEventsTable;
  controllers: ControllersTable;
  clusterOffers: ClusterOffersTable;
}

/** Where the job store lives, as the controller's config gives it. */
export interface JobDatabaseOptions {
  /** `postgres://...` (`CRANK_DB_URL`); empty for SQLite under `dataDir`. */
  url: string;
  /** The controller's data dir: the SQLite file is `<dataDir>/jobs.db`. */
  dataDir: string;
  /**
   * SQLite durability (`CRANK_DB_SYNC`): `normal` survives a crash of the process (WAL), `full`
   * also a power loss, at the price of an fsync per commit.
   */
  sync: 'normal' | 'full';
  /** PostgreSQL schema to use (created when missing). @default 'public' */
  schema?: string;
}

/** An open job database: the query layer (one for both dialects) and its dialect. */
export interface JobDatabase {
  db: Kysely<JobTables>;
  dialect: 'sqlite' | 'postgres';
}

/** PostgreSQL `bigint` (oid 20) read as a number: every bigint here is epoch ms or a count. */
const INT8_OID = 20;

/**
 * Opens the job database and brings its schema up to date (versioned migrations, run at start;
 * several controllers starting at once on one PostgreSQL database take turns through kysely's
 * migration lock).
 */
export async function openJobDatabase(options: JobDatabaseOptions): Promise<JobDatabase> {
  const plugins = [new CamelCasePlugin()];
  let database: JobDatabase;
  let migrationTableSchema: string | undefined;
  if (options.url) {
    const schema = options.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
      throw new Error(`CRANK_DB_SCHEMA: "${schema}" is not a plain lower-case identifier`);
    // Loaded only here: a controller on SQLite never needs the driver.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString: options.url,
      max: 10,
      options: `-c search_path=${schema}`,
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === INT8_OID
            ? (value: string) => Number(value)
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    const db = new Kysely<JobTables>({ dialect: new PostgresDialect({ pool }), plugins });
    await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    // Kysely looks for its bookkeeping tables in every schema unless told which one is ours.
    migrationTableSchema = schema;
    database = { db, dialect: 'postgres' };
  } else {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const file = new SQLite(join(options.dataDir, 'jobs.db'));
    file.pragma('journal_mode = WAL');
    file.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    file.pragma('busy_timeout = 5000');
    file.pragma('foreign_keys = ON');
    const db = new Kysely<JobTables>({
      dialect: new SqliteDialect({ database: withStatementCache(file) }),
      plugins,
    });
    database = { db, dialect: 'sqlite' };
  }
  const { error, results } = await new Migrator({
    db: database.db,
    provider: migrations(database.dialect),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  }).migrateToLatest();
  const failed = results?.find((result) => result.status === 'Error');
  if (error || failed) {
    await database.db.destroy();
    throw new Error(
      `job store migration ${failed?.migrationName ?? ''} failed: ${(error as Error | undefined)?.message ?? 'unknown error'}`,
    );
  }
  return database;
}

/** The versioned migrations, in order. Never edit one that has shipped; add the next. */
function migrations(dialect: 'sqlite' | 'postgres'): MigrationProvider {
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  const all: Record<string, Migration> = {
    '0001_jobs': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('jobs')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('capability', 'text', (c) => c.notNull())
          .addColumn('version_range', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('priority', 'integer', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('max_attempts', 'integer', (c) => c.notNull())
          .addColumn('timeout_ms', 'bigint', (c) => c.notNull())
          .addColumn('backoff_ms', 'bigint', (c) => c.notNull())
          .addColumn('run_at', 'bigint', (c) => c.notNull())
          .addColumn('input_type', 'text', (c) => c.notNull())
          .addColumn('input_data', sql.raw(bytes), (c) => c.notNull())
          .addColumn('output_type', 'text')
          .addColumn('output_data', sql.raw(bytes))
          .addColumn('error_code', 'text')
          .addColumn('error_message', 'text')
          .addColumn('error_details', 'text')
          .addColumn('error_retryable', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
          .addColumn('progress_message', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('worker_id', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('caller', 'text', (c) => c.notNull())
          .addColumn('idempotency_key', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('lease_token', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('lease_expires_at', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('started_at', 'bigint')
          .addColumn('finished_at', 'bigint')
          .execute();
        // The dispatcher's question, answered in index order: the most urgent due pending jobs of
        // a capability (priority descending, then due time, then age), without a sort.
        await db.schema
          .createIndex('jobs_due')
          .on('jobs')
          .expression(sql`state, capability, priority desc, run_at, id`)
          .execute();
        await db.schema.createIndex('jobs_created').on('jobs').columns(['created_at', 'id']).execute();
        await db.schema.createIndex('jobs_lease').on('jobs').columns(['state', 'lease_expires_at']).execute();
        await db.schema.createIndex('jobs_finished').on('jobs').columns(['finished_at']).execute();
        await db.schema
          .createIndex('jobs_idempotency')
          .on('jobs')
          .columns(['caller', 'idempotency_key'])
          .unique()
          .where(sql.ref('idempotency_key'), '<>', '')
          .execute();
        await db.schema
          .createTable('job_events')
          .addColumn('id', sql.raw(serial), (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('from_state', 'text')
          .addColumn('to_state', 'text', (c) => c.notNull())
          .addColumn('worker_id', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('attempt', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('error_code', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('error_message', 'text', (c) => c.notNull().defaultTo(''))
          .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
          .addColumn('message', 'text', (c) => c.notNull().defaultTo(''))
          .execute();
        await db.schema.createIndex('job_events_job').on('job_events').columns(['job_id', 'id']).execute();
      },
    },
  };
  all['0002_cluster'] = {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('controllers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('cluster_offers')
        .addColumn('controller_id', 'text', (c) => c.notNull())
        .addColumn('worker_id', 'text', (c) => c.notNull())
        .addColumn('capability', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('ready', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('cluster_offers_pk', ['controller_id', 'worker_id', 'capability', 'version'])
        .execute();
      await db.schema
        .createIndex('cluster_offers_capability')
        .on('cluster_offers')
        .columns(['capability'])
        .execute();
    },
  };
  return { getMigrations: () => Promise.resolve(all) };
}

/** Prepared statements kept per database: the job store issues a small set of queries, over and over. */
const STATEMENT_CACHE_MAX = 256;

/**
 * The database with `prepare` memoised by SQL text. Kysely prepares every query anew, and
 * preparing costs about as much as running one of these small statements; a better-sqlite3
 * statement may be run again and again, so the store's few distinct queries are prepared once.
 */
function withStatementCache(database: SQLite.Database): SQLite.Database {
  const prepared = new Map<string, SQLite.Statement>();
  const prepare = database.prepare.bind(database);
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver) as unknown;
        // Native methods must run on the database itself, not on the proxy.
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return (source: string) => {
        let statement = prepared.get(source);
        if (!statement) {
          statement = prepare(source);
          if (prepared.size >= STATEMENT_CACHE_MAX) prepared.delete(prepared.keys().next().value as string);
          prepared.set(source, statement);
        }
        return statement;
      };
    },
  });
}
