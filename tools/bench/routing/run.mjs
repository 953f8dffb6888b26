#!/usr/bin/env node
// Routing benchmark: what the controller and the worker runtime cost over the hop itself.
//   (a) a bare grpc-js echo over mTLS, one hop;
//   (c) the same through a bare grpc-js proxy, to a bare server of its own: two hops, no Crank
//       logic;
//   (b) CrankClient -> controller -> echo worker (two mTLS hops, input and output validated,
//       routed, metered),
// at concurrency 1, 16 and 64, for a small and a 64 KiB JSON payload; then records/s through a
// bidi stream of 1 KiB records, (c) a bare grpc-js relay against (b) InvokeStream. Each cell is
// measured in several rounds, each in another order of the paths, and the medians are printed:
// the machine is shared, and a burst of noise must not land on one path only; cells at
// concurrency 1, which hold the fewest calls, run twice the rounds. CPU per call is read from
// /proc for every process (its threads' run time). Needs `npx nx run-many -t build`.
// Every path is first warmed for --warmup seconds per payload, long enough for V8 to finish
// optimizing the hot code: with less, the path with more JavaScript (b) is measured while its
// background compiler threads still run.
// The controller and the worker runtime tune V8's garbage collector at start (tuneHeapForRequests
// in @crank/proto) and encode messages with @crank/proto's encodeMessage; the bare baselines and
// this process (the callers) run untuned with ts-proto's own serializers, unless --tune-baselines
// is given, which compares like with like.
//   node tools/bench/routing/run.mjs [--seconds 1] [--rounds 6] [--levels 1,16,64] [--warmup 8]
//     [--tune-baselines]
//     [--payloads 46,65536] [--stream-seconds 3] [--only a,b,c,stream]
//     [--node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]   (profiles the controller and workers)
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Metadata } from '@grpc/grpc-js';
import {
  CrankClient,
  callerIdentity,
  channelCredentials,
  controllerLocation,
} from '@crank/controller-client';
import { ExecuteRequest, StreamFrame, tuneHeapForRequests } from '@crank/proto';
import { baselineWorker } from './baseline-codec.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '8' },
    'tune-baselines': { type: 'boolean', default: false },
    // Six: every order of three paths once.
    rounds: { type: 'string', default: '6' },
    levels: { type: 'string', default: '1,16,64' },
    payloads: { type: 'string', default: '46,65536' },
    'stream-seconds': { type: 'string', default: '3' },
    only: { type: 'string', default: 'a,b,c,stream' },
    'node-args': { type: 'string', default: '' },
  },
});
const nodeArgs = values['node-args'].split(' ').filter(Boolean);
const tuneBaselines = values['tune-baselines'];
if (tuneBaselines) tuneHeapForRequests();
const { Client: BaselineWorkerClient } = baselineWorker(tuneBaselines);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const rounds = Number(values.rounds);
const streamSeconds = Number(values['stream-seconds']);
const levels = values.levels.split(',').map(Number);
const payloadSizes = values.payloads.split(',').map(Number);
const only = new Set(values.only.split(','));
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = mkdtempSync(join(tmpdir(), 'crank-bench-'));
const children = [];
/** How long a process is left idle before its idle RSS is read. */
const IDLE_SETTLE_MS = 60_000;

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function start(script, env, event) {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n').slice(0, -1)) {
        try {
          const parsed = JSON.parse(line);
          if (parsed.event === event) resolve({ ...parsed, pid: child.pid });
        } catch {
          // not JSON
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before "${event}"`)));
  });
}

/** Whether this kernel keeps per-thread run times (schedstat); decided once, for every reading. */
const hasSchedstat = existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`);

/**
 * CPU time (ms) a process has used so far, from /proc (Linux): the sum of its threads' run time in
 * nanoseconds (`schedstat`). `stat` counts whole clock ticks of 10 ms, which is 2 to 4% of what a
 * process spends in a round at concurrency 1; it is used only where schedstat is missing, so that
 * the two readings of a round are never taken in different units.
 */
function cpuMs(pid) {
  try {
    if (hasSchedstat) {
      let ns = 0;
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        try {
          ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
        } catch {
          // the thread ended since the listing
        }
      }
      return ns / 1e6;
    }
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process, MB, from /proc. */
function rssMb(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU each watched process spends while `run` runs, per unit of work (µs). */
async function withCpu(watched, run) {
  const before = Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, cpuMs(pid)]));
  const result = await run();
  result.cpuUs = Object.fromEntries(
    Object.entries(watched).map(([name, pid]) => [
      name,
      ((cpuMs(pid) - before[name]) * 1000) / Math.max(1, result.units),
    ]),
  );
  return result;
}

/** Runs `call` from `concurrency` loops for `forSeconds`: calls/s and latency percentiles (ms). */
async function measureCalls(call, concurrency, forSeconds = seconds) {
  const latencies = [];
  const startedAt = performance.now();
  const deadline = startedAt + forSeconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  const elapsed = (performance.now() - startedAt) / 1000;
  return { units: latencies.length, rate: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99) };
}

const median = (xs) => {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)];
};

/** Every order of `items` (for the two or three paths a cell compares). */
function orders(items) {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    orders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/**
 * Rounds per cell: a round at concurrency 1 holds a third to a quarter of the calls of one at 16
 * or 64, and its figures swing as much more with the machine's noise, so it runs twice as many.
 */
function roundsAt(concurrency) {
  return concurrency === 1 ? rounds * 2 : rounds;
}

/**
 * Measures `paths` (name -> { run, watched }) in `roundCount` rounds, each in the next of every
 * order of the paths. Not a rotation: with three paths a rotation always runs (c) right after (a),
 * which shares its echo server, and (b) after a path that left the controller and worker idle.
 */
async function compare(paths, roundCount = rounds) {
  const names = Object.keys(paths).filter((name) => only.has(name));
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  const sequences = orders(names);
  for (let round = 0; round < roundCount; round++) {
    for (const name of sequences[round % sequences.length]) {
      samples[name].push(await withCpu(paths[name].watched, paths[name].run));
    }
  }
  const summary = {};
  for (const name of names) {
    const runs = samples[name];
    summary[name] = {
      rate: median(runs.map((r) => r.rate)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      cpuUs: Object.fromEntries(
        Object.keys(paths[name].watched).map((who) => [who, median(runs.map((r) => r.cpuUs[who]))]),
      ),
      runs,
    };
  }
  // Ratios are taken per round, then their median: both sides of a ratio saw the same noise.
  summary.ratio = (x, pickX, y, pickY = pickX) =>
    x in samples && y in samples
      ? median(samples[x].map((r, i) => pickX(r) / pickY(samples[y][i])))
      : Number.NaN;
  return summary;
}

try {
  const grpcPort = await freePort();
  const env = {
    CRANK_DATA_DIR: dataDir,
    CRANK_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    CRANK_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
    CRANK_CONTROLLER_URL: `127.0.0.1:${grpcPort}`,
    CRANK_LOG_LEVEL: 'warn',
    CRANK_BENCH_TUNED: tuneBaselines ? '1' : '0',
  };
  const controller = await start(
    join(root, 'apps/controller/dist/main.js'),
    { ...env, CRANK_LOG_LEVEL: 'info' },
    'controller_started',
  );
  const worker = await start(
    join(root, 'apps/worker-echo/dist/main.js'),
    { ...env, CRANK_LOG_LEVEL: 'info' },
    'registered',
  );
  const raw = await start(join(root, 'tools/bench/routing/raw-echo-server.mjs'), env, 'listening');
  // (c) gets a bare server of its own, as (b) has its worker: one shared with (a) would also serve
  // (a)'s calls, two to four times as many, and stay warmer per call than a worker serving (b) only.
  const proxied = await start(join(root, 'tools/bench/routing/raw-echo-server.mjs'), env, 'listening');
  const proxy = await start(
    join(root, 'tools/bench/routing/raw-proxy.mjs'),
    { ...env, CRANK_BENCH_PROXY_TARGET: `127.0.0.1:${proxied.port}` },
    'listening',
  );
  // Idle: started, registered, no call yet. V8 gives back the heap that start-up grew once the
  // process has been idle a while (its memory reducer, in steps: about 30 and 60 s after start
  // here), so both are printed.
  const rssNow = () => ({ controller: rssMb(controller.pid), worker: rssMb(worker.pid) });
  await sleep(3_000);
  const startRss = rssNow();
  await sleep(IDLE_SETTLE_MS - 3_000);
  const idleRss = rssNow();

  const location = controllerLocation({ address: env.CRANK_CONTROLLER_URL, dataDir });
  const identity = await callerIdentity(location, 'bench', { home: join(dataDir, 'caller-home') });
  const crank = CrankClient.create(location.address, identity);
  const bareClient = (port, name) =>
    new BaselineWorkerClient(`127.0.0.1:${port}`, channelCredentials(identity.caPem, identity), {
      'grpc.ssl_target_name_override': name,
      'grpc.default_authority': name,
    });
  const bare = bareClient(raw.port, 'raw-echo');
  const viaProxy = bareClient(proxy.port, 'raw-proxy');

  const pids = { client: process.pid };
  const watchA = { ...pids, server: raw.pid };
  const watchC = { ...pids, proxy: proxy.pid, server: proxied.pid };
  const watchB = { ...pids, controller: controller.pid, worker: worker.pid };

  const results = [];
  for (const size of payloadSizes) {
    // A JSON text of `size` bytes: the message fills what the envelope leaves.
    const input = { message: 'x'.repeat(Math.max(1, size - JSON.stringify({ message: '' }).length)) };
    const request = ExecuteRequest.fromPartial({
      capability: 'debug.echo',
      version: '1.0.0',
      input: { contentType: 'application/json', data: Buffer.from(JSON.stringify(input)) },
    });
    const execute = (client) => () =>
      new Promise((resolve, reject) =>
        client.execute(request, new Metadata(), (e, r) => (e ? reject(e) : resolve(r))),
      );
    const calls = { a: execute(bare), c: execute(viaProxy), b: () => crank.invoke('debug.echo', input) };
    // Warm every path (connections, JIT) before measuring.
    for (const call of Object.values(calls)) await measureCalls(call, 8, warmupSeconds);
    for (const concurrency of levels) {
      const paths = {
        a: { run: () => measureCalls(calls.a, concurrency), watched: watchA },
        c: { run: () => measureCalls(calls.c, concurrency), watched: watchC },
        b: { run: () => measureCalls(calls.b, concurrency), watched: watchB },
      };
      results.push({
        size: JSON.stringify(input).length,
        concurrency,
        ...(await compare(paths, roundsAt(concurrency))),
      });
    }
  }

  let stream;
  if (only.has('stream')) {
    const record = { message: 'x'.repeat(1024 - JSON.stringify({ message: '' }).length) };
    const recordBytes = Buffer.from(JSON.stringify(record));
    // (c): StreamFrame chunks through the bare relay to the bare echo, which sends each back.
    const bareStream = async () => {
      const call = viaProxy.executeStream(new Metadata());
      const frame = StreamFrame.fromPartial({
        frame: { $case: 'chunk', value: { contentType: 'application/json', data: recordBytes } },
      });
      let received = 0;
      const reading = (async () => {
        for await (const _ of call) received += 1;
      })();
      const startedAt = performance.now();
      const deadline = startedAt + streamSeconds * 1000;
      let sent = 0;
      while (performance.now() < deadline) {
        if (!call.write(frame)) await new Promise((resolve) => call.once('drain', resolve));
        sent += 1;
      }
      call.end();
      await reading;
      if (received !== sent) throw new Error(`bare stream: sent ${sent}, received ${received}`);
      return { units: received, rate: received / ((performance.now() - startedAt) / 1000) };
    };
    // (b): the same records through InvokeStream to debug.echo-stream, checked both ways.
    const crankStream = async () => {
      const startedAt = performance.now();
      const deadline = startedAt + streamSeconds * 1000;
      let sent = 0;
      async function* records() {
        while (performance.now() < deadline) {
          sent += 1;
          yield record;
        }
      }
      let received = 0;
      for await (const _ of crank.invokeStream('debug.echo-stream', records())) received += 1;
      if (received !== sent) throw new Error(`crank stream: sent ${sent}, received ${received}`);
      return { units: received, rate: received / ((performance.now() - startedAt) / 1000) };
    };
    await bareStream();
    await crankStream();
    stream = await compare({
      c: { run: bareStream, watched: watchC },
      b: { run: crankStream, watched: watchB },
    });
  }
  await sleep(IDLE_SETTLE_MS);
  const afterRss = rssNow();

  const f = (n, d = 0) => (Number.isNaN(n) ? '-' : n.toFixed(d)).padStart(7);
  const cell = (m) => (m ? `${f(m.rate)} ${f(m.p50, 2)} ${f(m.p99, 2)}` : `${f(NaN)} ${f(NaN)} ${f(NaN)}`);
  const rate = (r) => r.rate;
  const cpu = (who) => (r) => r.cpuUs[who];
  console.log(
    `routing benchmark: medians of ${rounds} rounds (${roundsAt(1)} at concurrency 1), ${seconds} s per cell; each round runs the paths in another order`,
  );
  console.log(
    tuneBaselines
      ? '  baselines and callers tuned as the controller and worker are (--tune-baselines)'
      : '  baselines and callers untuned: plain grpc-js and Node (--tune-baselines tunes them too)',
  );
  console.log('  (a) bare grpc-js echo over mTLS, one hop');
  console.log('  (c) the same through a bare grpc-js proxy to a server of its own: two hops, no Crank logic');
  console.log('  (b) CrankClient -> controller -> echo worker');
  for (const size of [...new Set(results.map((r) => r.size))]) {
    const rows = results.filter((x) => x.size === size);
    console.log(`payload ${size} B JSON`);
    console.log(
      '  conc |  (a) calls/s  p50 ms  p99 ms |  (c) calls/s  p50 ms  p99 ms |  (b) calls/s  p50 ms  p99 ms |   b/c | b p50 - c p50',
    );
    for (const r of rows) {
      const added = r.b && r.c ? r.b.p50 - r.c.p50 : Number.NaN;
      console.log(
        `  ${String(r.concurrency).padStart(4)} | ${cell(r.a)} | ${cell(r.c)} | ${cell(r.b)} | ${f(r.ratio('b', rate, 'c'), 2).slice(2)} | ${f(added, 2)} ms`,
      );
    }
    console.log('  CPU per call, µs | controller  proxy  ratio | worker  server  ratio | client (b)  (c)');
    for (const r of rows) {
      if (!r.b) continue;
      r.c ??= { cpuUs: {} };
      console.log(
        `  conc ${String(r.concurrency).padStart(4)}        |    ${f(r.b.cpuUs.controller)}${f(r.c.cpuUs.proxy)}${f(r.ratio('b', cpu('controller'), 'c', cpu('proxy')), 2)} | ${f(r.b.cpuUs.worker)}${f(r.c.cpuUs.server)}${f(r.ratio('b', cpu('worker'), 'c', cpu('server')), 2)} |    ${f(r.b.cpuUs.client)}${f(r.c.cpuUs.client)}`,
      );
    }
  }
  if (stream) {
    console.log(
      `stream: 1 KiB JSON records through one bidi stream, ${streamSeconds} s per round; records/s, CPU per record (µs)`,
    );
    console.log(
      '  (c) bare grpc-js relay -> bare echo   (b) InvokeStream -> controller -> debug.echo-stream',
    );
    if (stream.c) {
      console.log(
        `  (c) ${f(stream.c.rate)} /s | proxy ${f(stream.c.cpuUs.proxy)} | server ${f(stream.c.cpuUs.server)} | client ${f(stream.c.cpuUs.client)}`,
      );
    }
    if (stream.b) {
      console.log(
        `  (b) ${f(stream.b.rate)} /s | controller ${f(stream.b.cpuUs.controller)} | worker ${f(stream.b.cpuUs.worker)} | client ${f(stream.b.cpuUs.client)}`,
      );
    }
    console.log(
      `  b/c ${f(stream.ratio('b', rate, 'c'), 2)} | controller/proxy ${f(stream.ratio('b', cpu('controller'), 'c', cpu('proxy')), 2)} | worker/server ${f(stream.ratio('b', cpu('worker'), 'c', cpu('server')), 2)}`,
    );
  }
  const mb = (r) => `controller ${r.controller.toFixed(0)}, echo worker ${r.worker.toFixed(0)}`;
  console.log(
    `RSS, MB: 3 s after start ${mb(startRss)}; idle ${IDLE_SETTLE_MS / 1000} s after start ${mb(idleRss)}; ` +
      `idle ${IDLE_SETTLE_MS / 1000} s after the run ${mb(afterRss)}`,
  );
  viaProxy.close();
  crank.close();
  bare.close();
} finally {
  // SIGTERM first: the apps exit cleanly (and write profiles when asked to).
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
  rmSync(dataDir, { recursive: true, force: true });
}
