#!/usr/bin/env node
// Jobs benchmark: durable jobs/s end to end (submit -> completed, as `jobs.watch` reports it) next
// to routed Invoke calls/s, measured in the same run at the same concurrency, with the echo worker
// (debug.echo, delayMs 0). For each store (SQLite in a scratch data dir; PostgreSQL in a fresh
// schema, dropped at the end) it starts a controller, then 1 and then 2 echo workers, real
// processes on free loopback ports. In each cell `--concurrency` loops call Invoke for
// `--seconds`, then `--concurrency` loops each keep one job outstanding (submit, wait for its
// completion event, submit the next) for as long. A job whose end the watch has not reported
// within 2 s is read with `jobs.get`; the report counts those. Needs the apps built.
//   node tools/bench/jobs/run.mjs [--seconds 5] [--concurrency 64] [--workers 1,2]
//     [--stores sqlite,postgres] [--pg-url postgres://...] [--controller-args="--cpu-prof ..."]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  CrankClient,
  callerIdentity,
  controllerLocation,
  isTerminalJobState,
} from '@crank/controller-client';
import { cpuMs, freePort, startApp, stopApps } from './processes.mjs';

/** The issue's target: jobs/s at least this share of Invoke calls/s, on SQLite. */
const TARGET_RATIO = 0.5;
/** A job not seen ending by then fails the run (debug.echo with delayMs 0 takes milliseconds). */
const JOB_END_TIMEOUT_MS = 60_000;
/** A job whose end the watch has not reported this long is read with `jobs.get`. */
const WATCH_CHECK_MS = 2_000;
const INPUT = { message: 'hello from the jobs benchmark', delayMs: 0 };

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    workers: { type: 'string', default: '1,2' },
    stores: { type: 'string', default: 'sqlite,postgres' },
    'pg-url': {
      type: 'string',
      default: process.env.CRANK_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    },
    // e.g. --controller-args="--cpu-prof --cpu-prof-dir=/tmp/prof": node flags of the controller.
    'controller-args': { type: 'string', default: '' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const workerCounts = values.workers.split(',').map(Number);
const stores = values.stores.split(',');
const pgUrl = values['pg-url'];
const controllerArgs = values['controller-args'].split(' ').filter(Boolean);
if (!(seconds > 0)) fail(`--seconds: must be a positive number (got "${values.seconds}")`);
if (!Number.isInteger(concurrency) || concurrency < 1)
  fail(`--concurrency: must be a positive integer (got "${values.concurrency}")`);
if (!workerCounts.every((n, i) => Number.isInteger(n) && n >= 1 && n > (workerCounts[i - 1] ?? 0)))
  fail(`--workers: must be increasing positive integers, like 1,2 (got "${values.workers}")`);
if (!stores.every((s) => s === 'sqlite' || s === 'postgres'))
  fail(`--stores: must list sqlite and/or postgres (got "${values.stores}")`);

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Measures each store in turn (PostgreSQL only when it answers), then prints the table. */
async function main() {
  console.log(
    `jobs benchmark: ${seconds} s per measurement, concurrency ${concurrency}, debug.echo delayMs 0, ` +
      `payload ${JSON.stringify(INPUT).length} B JSON`,
  );
  const rows = [];
  for (const store of stores) {
    if (store === 'postgres') {
      const unreachable = await pgUnreachable();
      if (unreachable) {
        console.log(`PostgreSQL: skipped, ${redact(pgUrl)} is unreachable (${unreachable})`);
        continue;
      }
    }
    try {
      await benchStore(store, rows);
    } catch (error) {
      console.log(`${store}: failed: ${error.message}`);
      process.exitCode = 1;
    }
  }
  report(rows);
}

/**
 * Starts a controller on `store`, adds workers up to each count in turn and measures each cell,
 * adding a row to `rows` for each.
 */
async function benchStore(store, rows) {
  const scratch = mkdtempSync(join(tmpdir(), 'crank-bench-jobs-'));
  const dataDir = join(scratch, 'data');
  mkdirSync(dataDir);
  const schema = `crank_bench_jobs_${process.pid}_${Date.now().toString(36)}`;
  const grpcAddress = `127.0.0.1:${await freePort()}`;
  const env = {
    PATH: process.env.PATH,
    CRANK_DATA_DIR: dataDir,
    CRANK_GRPC_ADDR: grpcAddress,
    CRANK_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
    CRANK_CONTROLLER_URL: grpcAddress,
    CRANK_LOG_LEVEL: 'info',
    ...(store === 'postgres' ? { CRANK_DB_URL: pgUrl, CRANK_DB_SCHEMA: schema } : {}),
  };
  const apps = [];
  let client;
  try {
    const app = (main, ready, args) => startApp(apps, join(root, main), env, ready, args);
    const controller = await app('apps/controller/dist/main.js', 'controller_started', controllerArgs);
    const location = controllerLocation({ address: grpcAddress, dataDir });
    client = CrankClient.create(
      location.address,
      await callerIdentity(location, 'bench', { home: join(scratch, 'caller-home') }),
    );
    const workers = [];
    for (const count of workerCounts) {
      while (workers.length < count) workers.push(await app('apps/worker-echo/dist/main.js', 'registered'));
      const watched = { controller: controller.pid, workers: workers.map((w) => w.pid), bench: process.pid };
      const invoke = () => client.invoke('debug.echo', INPUT).then(() => undefined);
      const jobs = new JobLoop(client);
      try {
        await jobs.open();
        // Warm both paths (connections, JIT, statement caches) before measuring.
        await measure(invoke, 8, 1);
        await measure(() => jobs.run(), 8, 1);
        const calls = await measure(invoke, concurrency, seconds, watched);
        jobs.failed = jobs.missed = 0;
        const done = await measure(() => jobs.run(), concurrency, seconds, watched);
        rows.push({ store, workers: count, calls, jobs: done, failed: jobs.failed, missed: jobs.missed });
        console.log(
          `  ${store}, ${count} worker(s): ${done.rate.toFixed(0)} jobs/s, ${calls.rate.toFixed(0)} calls/s`,
        );
      } finally {
        jobs.close();
      }
    }
  } finally {
    client?.close();
    await stopApps(apps);
    rmSync(scratch, { recursive: true, force: true });
    if (store === 'postgres') await dropSchema(schema);
  }
}

/**
 * Jobs submitted and followed to their end through one `jobs.watch` of debug.echo. A completion
 * event may arrive before the submit call returns; it is kept until the submitter asks for it.
 */
class JobLoop {
  /** Job id -> the waiter of its end; at most one per job. */
  waiting = new Map();
  /** Job id -> its end state, for an end seen before its submit returned. */
  early = new Map();
  /** Jobs that ended other than completed. */
  failed = 0;
  /** Jobs whose end the watch did not report: found by reading the job. */
  missed = 0;
  /** Set once the watch failed: every wait, current or later, rejects with it. */
  broken = undefined;
  stop = new AbortController();

  constructor(client) {
    this.client = client;
  }

  /** Starts following events; resolves once the watch provably sees new jobs. */
  async open() {
    const events = this.client.jobs.watch({ capability: 'debug.echo' }, { signal: this.stop.signal });
    void (async () => {
      for await (const { job } of events) {
        if (!isTerminalJobState(job.state)) continue;
        const waiter = this.waiting.get(job.id);
        if (!waiter) this.early.set(job.id, job.state);
        else {
          this.waiting.delete(job.id);
          waiter.resolve(job.state);
        }
      }
    })().catch((error) => {
      this.broken = new Error(`jobs.watch failed: ${error.message}`);
      for (const waiter of this.waiting.values()) waiter.reject(this.broken);
      this.waiting.clear();
    });
    // The watch opens lazily and starts at the newest event: a job it sees proves it is open.
    for (;;) {
      const { id } = await this.client.jobs.submit('debug.echo', INPUT);
      const missed = this.missed;
      if ((await this.end(id, 1_000).catch(() => undefined)) && this.missed === missed) return;
    }
  }

  /** Submits one job and resolves when the watch reports it ended. */
  async run() {
    const { id } = await this.client.jobs.submit('debug.echo', INPUT);
    if ((await this.end(id, JOB_END_TIMEOUT_MS)) !== 'completed') this.failed++;
  }

  /**
   * The end state of job `id`, as the watch reports it. While the watch is quiet about the job it
   * is read every WATCH_CHECK_MS: an end found that way counts in `missed`. Rejects when the job
   * has not ended within `timeoutMs`.
   */
  end(id, timeoutMs) {
    if (this.broken) return Promise.reject(this.broken);
    const state = this.early.get(id);
    if (state) {
      this.early.delete(id);
      return Promise.resolve(state);
    }
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      let timer;
      const settle = (fn) => (value) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        fn(value);
      };
      const waiter = { resolve: settle(resolve), reject: settle(reject) };
      const check = async () => {
        const job = await this.client.jobs.get(id).catch(() => undefined);
        if (this.waiting.get(id) !== waiter) return; // the watch reported it meanwhile
        if (job && isTerminalJobState(job.state)) {
          this.missed++;
          waiter.resolve(job.state);
        } else if (performance.now() >= deadline) {
          waiter.reject(new Error(`job ${id}: still ${job?.state ?? 'unknown'} after ${timeoutMs} ms`));
        } else timer = setTimeout(check, Math.min(WATCH_CHECK_MS, deadline - performance.now()));
      };
      timer = setTimeout(check, Math.min(WATCH_CHECK_MS, timeoutMs));
      this.waiting.set(id, waiter);
    });
  }

  close() {
    this.stop.abort();
  }
}

/**
 * Runs `op` from `loops` loops, each starting another op while under `forSeconds`; returns ops/s
 * (over the time until the last op ended), latency p50/p99 (ms) and CPU per op (µs) of `watched`.
 */
async function measure(op, loops, forSeconds, watched = {}) {
  const pids = Object.entries(watched).map(([name, pid]) => [name, [pid].flat()]);
  const cpu = () =>
    Object.fromEntries(pids.map(([name, list]) => [name, list.reduce((s, p) => s + cpuMs(p), 0)]));
  const cpuBefore = cpu();
  const latencies = [];
  const start = performance.now();
  const deadline = start + forSeconds * 1000;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await op();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedS = (performance.now() - start) / 1000;
  const cpuAfter = cpu();
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    count: latencies.length,
    rate: latencies.length / elapsedS,
    p50: pct(0.5),
    p99: pct(0.99),
    cpuPerOpUs: Object.fromEntries(
      pids.map(([name]) => [
        name,
        ((cpuAfter[name] - cpuBefore[name]) * 1000) / Math.max(1, latencies.length),
      ]),
    ),
  };
}

function report(rows) {
  if (rows.length === 0) return console.log('no store measured');
  const col = (v, w) => String(v).padStart(w);
  console.log(
    '\n  store       workers  conc   jobs/s  invoke calls/s  jobs/invoke  job p50 ms  job p99 ms  invoke p50/p99 ms',
  );
  for (const r of rows) {
    console.log(
      `  ${r.store.padEnd(10)} ${col(r.workers, 8)} ${col(concurrency, 5)} ${col(r.jobs.rate.toFixed(0), 8)} ` +
        `${col(r.calls.rate.toFixed(0), 15)} ${col((r.jobs.rate / r.calls.rate).toFixed(2), 12)} ` +
        `${col(r.jobs.p50.toFixed(1), 11)} ${col(r.jobs.p99.toFixed(1), 11)} ` +
        `${col(`${r.calls.p50.toFixed(1)} / ${r.calls.p99.toFixed(1)}`, 18)}`,
    );
  }
  console.log('CPU per job | per call (µs, user + system, from /proc; bench is this process):');
  const fmt = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ');
  for (const r of rows)
    console.log(
      `  ${r.store}, ${r.workers} worker(s): ${fmt(r.jobs.cpuPerOpUs)} | ${fmt(r.calls.cpuPerOpUs)}`,
    );
  const failed = rows.reduce((n, r) => n + r.failed, 0);
  if (failed > 0) console.log(`jobs that did not complete: ${failed}`);
  for (const r of rows.filter((r) => r.missed > 0)) {
    console.log(
      `${r.store}, ${r.workers} worker(s): jobs.watch never reported the end of ${r.missed} of ` +
        `${r.jobs.count} jobs (found by jobs.get after ${WATCH_CHECK_MS / 1000} s; their latency includes that wait)`,
    );
  }
  const sqlite = rows.filter((r) => r.store === 'sqlite');
  if (sqlite.length > 0) {
    const ratios = sqlite.map((r) => r.jobs.rate / r.calls.rate);
    const met = ratios.every((x) => x >= TARGET_RATIO);
    console.log(
      `target jobs/s >= ${TARGET_RATIO} x invoke calls/s on SQLite: ${met ? 'met' : 'NOT met'} ` +
        `(${ratios.map((x) => x.toFixed(2)).join(', ')})`,
    );
  }
}

/** Why PostgreSQL cannot be used, or '' when it answers. */
async function pgUnreachable() {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return '';
  } catch (error) {
    return error.message || error.code || String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropSchema(schema) {
  const client = new pg.Client({ connectionString: pgUrl });
  try {
    await client.connect();
    await client.query(`drop schema if exists ${schema} cascade`);
  } catch (error) {
    console.error(`could not drop schema ${schema}: ${error.message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

await main();
