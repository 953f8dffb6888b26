#!/usr/bin/env node
// Routing benchmark: calls/s and p50/p99 latency at concurrency 1, 16 and 64 for
//   (a) a bare grpc-js echo over mTLS, one hop (baseline), and
//   (b) the same payload through CrankClient -> controller -> echo worker (two mTLS hops, input and
//       output validated, routed, metered),
// measured in one run on this machine, with the ratio b/a. Needs `npx nx run-many -t build`.
//   node tools/bench/routing/run.mjs [--seconds 3] [--levels 1,16,64]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Metadata } from '@grpc/grpc-js';
import {
  CrankClient,
  callerIdentity,
  channelCredentials,
  controllerLocation,
} from '@crank/controller-client';
import { ExecuteRequest, WorkerClient } from '@crank/proto';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    levels: { type: 'string', default: '1,16,64' },
    // e.g. --node-args="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the controller and workers.
    'node-args': { type: 'string', default: '' },
  },
});
const nodeArgs = values['node-args'].split(' ').filter(Boolean);
const seconds = Number(values.seconds);
const levels = values.levels.split(',').map(Number);
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = mkdtempSync(join(tmpdir(), 'crank-bench-'));
const children = [];

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
    const resolveWithPid = (parsed) => resolve({ ...parsed, pid: child.pid });
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n').slice(0, -1)) {
        try {
          const parsed = JSON.parse(line);
          if (parsed.event === event) resolveWithPid(parsed);
        } catch {
          // not JSON
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before "${event}"`)));
  });
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

/**
 * Runs `call` from `concurrency` loops for `seconds`; returns calls/s, latency percentiles (ms) and
 * the CPU each watched process spent per call (µs).
 */
async function measure(call, concurrency, watched = {}) {
  const cpuBefore = Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, cpuMs(pid)]));
  const latencies = [];
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const cpuPerCallUs = Object.fromEntries(
    Object.entries(watched).map(([name, pid]) => [
      name,
      ((cpuMs(pid) - cpuBefore[name]) * 1000) / Math.max(1, latencies.length),
    ]),
  );
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { rps: latencies.length / seconds, p50: pct(0.5), p99: pct(0.99), cpuPerCallUs };
}

try {
  const grpcPort = await freePort();
  const env = {
    CRANK_DATA_DIR: dataDir,
    CRANK_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    CRANK_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
    CRANK_CONTROLLER_URL: `127.0.0.1:${grpcPort}`,
    CRANK_LOG_LEVEL: 'warn',
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
  const proxy = await start(
    join(root, 'tools/bench/routing/raw-proxy.mjs'),
    { ...env, CRANK_BENCH_PROXY_TARGET: `127.0.0.1:${raw.port}` },
    'listening',
  );

  const location = controllerLocation({ address: env.CRANK_CONTROLLER_URL, dataDir });
  const identity = await callerIdentity(location, 'bench', { home: join(dataDir, 'caller-home') });
  const crank = CrankClient.create(location.address, identity);
  const bare = new WorkerClient(`127.0.0.1:${raw.port}`, channelCredentials(identity.caPem, identity), {
    'grpc.ssl_target_name_override': 'raw-echo',
    'grpc.default_authority': 'raw-echo',
  });
  const input = { message: 'hello from the routing benchmark' };
  const request = ExecuteRequest.fromPartial({
    capability: 'debug.echo',
    version: '1.0.0',
    input: { contentType: 'application/json', data: Buffer.from(JSON.stringify(input)) },
  });
  const viaProxy = new WorkerClient(`127.0.0.1:${proxy.port}`, channelCredentials(identity.caPem, identity), {
    'grpc.ssl_target_name_override': 'raw-proxy',
    'grpc.default_authority': 'raw-proxy',
  });
  const execute = (client) => () =>
    new Promise((resolve, reject) =>
      client.execute(request, new Metadata(), (e, r) => (e ? reject(e) : resolve(r))),
    );
  const callBare = execute(bare);
  const callProxy = execute(viaProxy);
  const callCrank = () => crank.invoke('debug.echo', input);

  // Warm every path (connections, JIT) before measuring.
  for (const call of [callBare, callProxy, callCrank]) await measure(call, 8);

  const rows = [];
  for (const concurrency of levels) {
    const a = await measure(callBare, concurrency, { client: process.pid, server: raw.pid });
    const c = await measure(callProxy, concurrency, {
      client: process.pid,
      proxy: proxy.pid,
      server: raw.pid,
    });
    const b = await measure(callCrank, concurrency, {
      client: process.pid,
      controller: controller.pid,
      worker: worker.pid,
    });
    rows.push({ concurrency, a, b, c });
  }
  const f = (n, d = 0) => n.toFixed(d).padStart(7);
  const cell = (m) => `${f(m.rps)} ${f(m.p50, 2)} ${f(m.p99, 2)}`;
  console.log(`routing benchmark, ${seconds} s per cell, payload ${JSON.stringify(input).length} B JSON`);
  console.log('  (a) bare grpc-js echo over mTLS, one hop');
  console.log('  (c) the same through a bare grpc-js proxy: two hops, no Crank logic');
  console.log('  (b) CrankClient -> controller -> echo worker');
  console.log(
    '  conc |  (a) calls/s  p50 ms  p99 ms |  (c) calls/s  p50 ms  p99 ms |  (b) calls/s  p50 ms  p99 ms |  b/a   c/a | b p99 added',
  );
  for (const { concurrency, a, b, c } of rows) {
    console.log(
      `  ${String(concurrency).padStart(4)} | ${cell(a)} | ${cell(c)} | ${cell(b)} | ${(b.rps / a.rps).toFixed(2)}  ${(c.rps / a.rps).toFixed(2)} | ${(b.p99 - a.p99).toFixed(2)} ms`,
    );
  }
  console.log('CPU per call (µs, user + system, from /proc; the client is this process):');
  const fmt = (o) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ');
  for (const { concurrency, a, b, c } of rows) {
    console.log(
      `  conc ${String(concurrency).padStart(2)}: (a) ${fmt(a.cpuPerCallUs)} | (c) ${fmt(c.cpuPerCallUs)} | (b) ${fmt(b.cpuPerCallUs)}`,
    );
  }
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
