#!/usr/bin/env node
// Soak: CrankClient -> controller -> echo workers, real processes on free loopback ports with a
// scratch data dir and a scratch caller home, under `debug.echo` load at a fixed concurrency.
// At 1/3 of the run one worker is SIGKILLed (and a replacement started); at 2/3 the controller
// gets SIGTERM and a new one starts on the same ports. Prints calls, calls/s, errors by contract
// code and each process's RSS (start after warm-up, peak, end). Needs the apps built.
//   node tools/bench/soak/run.mjs [--duration 2m] [--concurrency 64] [--workers 3]
//
// Settled: a fault is settled once the controller is seen (client.workers()) without it: after
// the SIGKILL, when the killed worker is listed as 'gone' or no longer listed (evicted after 3
// missed heartbeats of HEARTBEAT_MS); after the restart, when the new controller lists every
// live worker as 'ready' or 'busy'. A call is exposed to a fault when it was issued while a fault
// was unsettled, or was in flight when a fault happened. Exits 1 when:
//   - a call that was not exposed failed (lost), or an exposed one failed with a code other than
//     UNAVAILABLE or CANCELLED;
//   - a fault did not settle within SETTLE_TIMEOUT_MS, or a process exited without being told to;
//   - a process's end RSS is above RSS_FACTOR x its start RSS + RSS_ALLOWANCE_MIB.
// Ctrl-C stops the load early and still prints the report.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CrankClient, callerIdentity, controllerLocation } from '@crank/controller-client';
import { RssSampler } from './rss-sampler.mjs';

/** Workers beat each second, so the killed one is evicted about 3 s after its death. */
const HEARTBEAT_MS = 1_000;
const SETTLE_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 30_000;
/** The handler's wait, in turn per call: most calls are quick, some hold a slot for a while. */
const DELAYS_MS = [0, 0, 2, 10, 50];
/** A loop whose call failed waits this long before the next, as a caller backing off would. */
const ERROR_PAUSE_MS = 50;
const EXPECTED_CODES = new Set(['UNAVAILABLE', 'CANCELLED']);
/** Node's RSS moves by tens of MiB with GC and JIT alone; a leak under load grows past this. */
const RSS_FACTOR = 1.5;
const RSS_ALLOWANCE_MIB = 32;

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '2m' },
    concurrency: { type: 'string', default: '64' },
    workers: { type: 'string', default: '3' },
  },
});
const durationMs = parseDurationMs(values.duration);
const concurrency = Number(values.concurrency);
const workerCount = Number(values.workers);
if (!(durationMs >= 3_000))
  fail(`--duration: must be at least 3s, like 45s, 2m or 10m (got "${values.duration}")`);
if (!Number.isInteger(concurrency) || concurrency < 1) fail(`--concurrency: must be a positive integer`);
if (!Number.isInteger(workerCount) || workerCount < 3) fail(`--workers: must be an integer of at least 3`);
/** Each process's start RSS is read this long after it starts taking load. */
const warmupMs = Math.min(10_000, durationMs / 6);

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const scratch = mkdtempSync(join(tmpdir(), 'crank-soak-'));
const dataDir = join(scratch, 'data');
const callerHomeDir = join(scratch, 'caller-home');
mkdirSync(dataDir);
const children = [];
const failures = [];
const sampler = new RssSampler(1_000);
const stopController = new AbortController();
const stopped = stopController.signal;
let interrupted = false;
let loadStartedAt = 0;

process.on('SIGINT', () => {
  if (stopped.aborted) {
    for (const c of children) c.child.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
    process.exit(130);
  }
  interrupted = true;
  note('Ctrl-C: stopping the load (again to abort without a report)');
  stopController.abort();
});

const env = {
  PATH: process.env.PATH,
  CRANK_DATA_DIR: dataDir,
  CRANK_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
  CRANK_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
  CRANK_HEARTBEAT_MS: String(HEARTBEAT_MS),
  CRANK_LOG_LEVEL: 'info',
};
env.CRANK_CONTROLLER_URL = env.CRANK_GRPC_ADDR;

// Calls: succeeded, failed while exposed to a fault with an expected code, and lost.
const stats = { ok: 0, expected: new Map(), lost: new Map(), firstLost: '' };
let faults = 0; // incremented at each SIGKILL/SIGTERM
let settled = true;
let client;
console.log(
  `soak: ${fmtS(durationMs)} s at concurrency ${concurrency}, 1 controller + ${workerCount} echo workers, ` +
    `heartbeat ${HEARTBEAT_MS} ms, delayMs ${DELAYS_MS.join('/')}, warm-up ${fmtS(warmupMs)} s (scratch ${scratch})`,
);
try {
  let controller = await startApp('controller-1', 'apps/controller/dist/main.js', 'controller_started');
  const workers = [];
  for (let i = 1; i <= workerCount; i++) workers.push(await startWorker(`echo-${i}`));
  const location = controllerLocation({ address: env.CRANK_CONTROLLER_URL, dataDir }, {});
  client = CrankClient.create(
    location.address,
    await callerIdentity(location, 'soak', { home: callerHomeDir }),
  );

  loadStartedAt = performance.now();
  note('load started');
  sampler.track('caller (this)', process.pid);
  sampler.start();
  setTimeout(() => stopController.abort(), durationMs).unref();
  for (const p of [controller, ...workers, { name: 'caller (this)' }]) markStartAfterWarmup(p);

  const scenario = async () => {
    if (!(await until(durationMs / 3))) return;
    const victim = workers.shift();
    sampler.markEnd(victim.name);
    victim.stopping = true;
    faults++;
    settled = false;
    victim.child.kill('SIGKILL');
    const killedAt = performance.now();
    note(`SIGKILL ${victim.name} (pid ${victim.pid}, worker ${victim.workerId})`);
    const replacement = startWorker(`echo-${workerCount + 1}`).then((w) => {
      workers.push(w);
      markStartAfterWarmup(w);
      return w;
    });
    const evicted = await settle(`${victim.name} evicted`, killedAt, (list) =>
      list.every((w) => w.id !== victim.workerId || w.state === 'gone'),
    );
    await replacement;
    if (!evicted || !(await until((2 * durationMs) / 3))) return;

    sampler.markEnd(controller.name);
    controller.stopping = true;
    faults++;
    settled = false;
    controller.child.kill('SIGTERM');
    const termAt = performance.now();
    note(`SIGTERM ${controller.name} (pid ${controller.pid})`);
    const exited = await Promise.race([controller.exited, delay(15_000, false)]);
    if (!exited) {
      failures.push(`${controller.name} did not exit within 15 s of SIGTERM; killed`);
      controller.child.kill('SIGKILL');
      await controller.exited;
    }
    note(`${controller.name} exited after ${fmtS(performance.now() - termAt)} s`);
    controller = await startApp('controller-2', 'apps/controller/dist/main.js', 'controller_started');
    markStartAfterWarmup(controller);
    const live = workers.map((w) => w.workerId);
    await settle(`every live worker (${live.length}) registered with ${controller.name}`, termAt, (list) =>
      live.every((id) => list.some((w) => w.id === id && (w.state === 'ready' || w.state === 'busy'))),
    );
  };

  await Promise.all([
    scenario().catch((error) => {
      failures.push(`fault scenario failed: ${error.message}`);
      stopController.abort();
    }),
    ...Array.from({ length: concurrency }, (_, i) => callLoop(i)),
  ]);
  const loadMs = performance.now() - loadStartedAt;
  note('end of load');
  for (const name of sampler.processes.keys()) sampler.markEnd(name);
  sampler.stop();
  report(loadMs);
} catch (error) {
  failures.push(error.message);
} finally {
  client?.close();
  await stopAll();
  rmSync(scratch, { recursive: true, force: true });
}
if (failures.length > 0) {
  console.log(`\nFAIL (${failures.length}):`);
  for (const f of failures) console.log(`  - ${f}`);
  process.exitCode = 1;
} else {
  console.log(interrupted ? '\nstopped early by Ctrl-C; no check failed' : '\nPASS');
  if (interrupted) process.exitCode = 130;
}

/** One of `concurrency` loops calling `debug.echo` until the run stops. */
async function callLoop(index) {
  for (let n = index; !stopped.aborted; n++) {
    const exposedAtIssue = !settled;
    const faultsAtIssue = faults;
    try {
      await client.invoke('debug.echo', { message: 'soak', delayMs: DELAYS_MS[n % DELAYS_MS.length] });
      stats.ok++;
    } catch (error) {
      const code = error.code ?? error.name ?? 'UNKNOWN';
      const exposed = exposedAtIssue || faults !== faultsAtIssue;
      const expected = exposed && EXPECTED_CODES.has(code);
      const bucket = expected ? stats.expected : stats.lost;
      bucket.set(code, (bucket.get(code) ?? 0) + 1);
      if (!expected && !stats.firstLost)
        stats.firstLost = `t=${fmtS(elapsedMs())} s, ${exposed ? 'exposed' : 'not exposed'}: ${code} ${error.message}`;
      await delay(ERROR_PAUSE_MS);
    }
  }
}

/**
 * Polls the controller until `check(workers)` holds; then marks the fault settled. Records a failure
 * when it does not within SETTLE_TIMEOUT_MS, or when the run ends first without a Ctrl-C.
 */
async function settle(what, faultAt, check) {
  const deadline = faultAt + SETTLE_TIMEOUT_MS;
  while (!stopped.aborted && performance.now() < deadline) {
    const ok = await client.workers().then(check, () => false);
    if (ok) {
      settled = true;
      note(`${what}: settled ${fmtS(performance.now() - faultAt)} s after the fault`);
      return true;
    }
    await delay(100);
  }
  if (!interrupted) failures.push(`not settled: ${what} (waited ${fmtS(performance.now() - faultAt)} s)`);
  return false;
}

/** Waits until `atMs` into the load; false when the run stopped first. */
async function until(atMs) {
  const waitMs = loadStartedAt + atMs - performance.now();
  if (waitMs > 0) await delay(waitMs, undefined, { signal: stopped }).catch(() => undefined);
  return !stopped.aborted;
}

async function startWorker(name) {
  const w = await startApp(name, 'apps/worker-echo/dist/main.js', 'registered');
  w.workerId = String(w.readyLine.workerId);
  return w;
}

/**
 * Starts an app in its own process group (so Ctrl-C reaches only this script) and resolves once
 * it logs `readyEvent`. An exit nobody asked for is recorded as a failure.
 */
function startApp(name, main, readyEvent) {
  const child = spawn(process.execPath, [join(root, main)], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const proc = { name, child, pid: child.pid, stopping: false, tail: [] };
  proc.exited = new Promise((resolve) => child.once('exit', () => resolve(true)));
  children.push(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(
          `${name}: no "${readyEvent}" within ${READY_TIMEOUT_MS} ms; last: ${proc.tail.join(' | ')}`,
        ),
      );
    }, READY_TIMEOUT_MS);
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        proc.tail = [...proc.tail.slice(-4), line.slice(0, 300)];
        if (proc.readyLine || !line.includes(readyEvent)) continue;
        try {
          const parsed = JSON.parse(line);
          if (parsed.event !== readyEvent) continue;
          proc.readyLine = parsed;
          clearTimeout(timer);
          sampler.track(name, proc.pid);
          note(`${name} ready (pid ${proc.pid})`);
          resolve(proc);
        } catch {
          // not JSON
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const how = `${name} (pid ${proc.pid}) exited with ${signal ?? code}`;
      if (!proc.readyLine) reject(new Error(`${how} before "${readyEvent}"; last: ${proc.tail.join(' | ')}`));
      else if (!proc.stopping) failures.push(`${how} unasked; last: ${proc.tail.join(' | ')}`);
    });
  });
}

function markStartAfterWarmup(proc) {
  setTimeout(() => {
    if (!proc.stopping) sampler.markStart(proc.name);
  }, warmupMs).unref();
}

/** SIGTERM every child still running (they drain and exit), SIGKILL after 10 s. */
async function stopAll() {
  for (const c of children) c.stopping = true;
  await Promise.all(
    children.map(async (c) => {
      if (c.child.exitCode !== null || c.child.signalCode !== null) return;
      c.child.kill('SIGTERM');
      if (!(await Promise.race([c.exited, delay(10_000, false)]))) c.child.kill('SIGKILL');
      await c.exited;
    }),
  );
}

function report(loadMs) {
  const total = stats.ok + sum(stats.expected) + sum(stats.lost);
  const byCode = (m) => [...m].map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  console.log(`\ncalls: ${total} in ${fmtS(loadMs)} s = ${Math.round(total / (loadMs / 1000))} calls/s`);
  console.log(`  succeeded                                ${stats.ok}`);
  console.log(`  failed, exposed to a fault (expected)    ${sum(stats.expected)}: ${byCode(stats.expected)}`);
  console.log(`  failed, lost                             ${sum(stats.lost)}: ${byCode(stats.lost)}`);
  if (sum(stats.lost) > 0) {
    failures.push(`${sum(stats.lost)} calls lost (${byCode(stats.lost)}); first: ${stats.firstLost}`);
  }

  const mib = (bytes) => (bytes === undefined ? '-' : (bytes / 2 ** 20).toFixed(1));
  console.log(`RSS (MiB; limit = ${RSS_FACTOR} x start + ${RSS_ALLOWANCE_MIB}):`);
  console.log('  process          pid    start     peak      end    limit  verdict');
  for (const [name, p] of sampler.processes) {
    let limit;
    let verdict = 'not judged (lived less than the warm-up)';
    if (p.start !== undefined && p.end !== undefined) {
      limit = RSS_FACTOR * p.start + RSS_ALLOWANCE_MIB * 2 ** 20;
      verdict = p.end <= limit ? 'ok' : 'GREW';
      if (p.end > limit) {
        failures.push(
          `RSS of ${name} did not come back: end ${mib(p.end)} MiB > ${mib(limit)} MiB (start ${mib(p.start)})`,
        );
      }
    }
    const cols = [p.start, p.peak, p.end, limit].map((v) => mib(v).padStart(8)).join(' ');
    console.log(`  ${name.padEnd(14)} ${String(p.pid).padStart(6)} ${cols}  ${verdict}`);
  }
}

function note(text) {
  console.log(`  ${loadStartedAt ? `t=${fmtS(elapsedMs()).padStart(6)} s` : 'setup     '}  ${text}`);
}

function elapsedMs() {
  return performance.now() - loadStartedAt;
}

function fmtS(ms) {
  return (ms / 1000).toFixed(1);
}

function sum(map) {
  let n = 0;
  for (const v of map.values()) n += v;
  return n;
}

/** "45s", "10m", "1h", "500ms"; a bare number is seconds. */
function parseDurationMs(text) {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return Number.NaN;
  return Number(match[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'];
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function fail(message) {
  console.error(message);
  process.exit(2);
}
