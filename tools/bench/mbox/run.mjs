#!/usr/bin/env node
// Mbox benchmark: a generated mbox (tools/gen-mbox, default 2 GB, one 100 MB message in it)
// streamed to parse.mbox through client -> controller -> email-parser worker, real processes on
// free loopback ports, over gRPC (CrankClient.invokeStream, 64 KiB chunks) and over HTTP
// (PUT /v1/stream/parse.mbox, as curl -T sends it). For each path it prints MB/s, records and the
// peak RSS of the controller and the worker (read from /proc every 100 ms), next to a floor
// measured in the same run on the same file: a plain Node line count (readline over a file
// stream), and, for scale, a raw newline count (Buffer.indexOf). Targets: at least 0.3 x the
// floor, worker RSS under 200 MB; the exit status is 1 when one is missed. Needs the apps built.
//   node tools/bench/mbox/run.mjs [--size 2GB] [--file existing.mbox] [--paths grpc,http]
//     [--keep] (keep the generated file) [--seed 1] [--chunk-kib 64] (gRPC chunks)
//     [--controller-args="..."] [--worker-args="..."] (node flags of the apps)
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CrankClient, callerIdentity, controllerLocation } from '@crank/controller-client';
import { parseSize, writeMbox } from '../../gen-mbox/gen-mbox.mjs';
import { freePort, startApp, stopApps } from '../jobs/processes.mjs';
import { RssSampler } from '../soak/rss-sampler.mjs';

const TARGET_RATIO = 0.3;
const WORKER_RSS_MAX = 200 * 1024 * 1024;
const MB = 1e6;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '2GB' },
    file: { type: 'string' },
    paths: { type: 'string', default: 'grpc,http' },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    // Size of the chunks the gRPC client sends (the CLI sends 64 KiB).
    'chunk-kib': { type: 'string', default: '64' },
    // e.g. --worker-args="--cpu-prof --cpu-prof-dir=/tmp/prof": node flags of each app.
    'controller-args': { type: 'string', default: '' },
    'worker-args': { type: 'string', default: '' },
  },
});
const chunkBytes = Number(values['chunk-kib']) * 1024;
if (!(chunkBytes > 0)) fail(`--chunk-kib: must be a positive number (got "${values['chunk-kib']}")`);
const paths = values.paths.split(',');
if (!paths.every((p) => p === 'grpc' || p === 'http'))
  fail(`--paths: grpc and/or http (got "${values.paths}")`);

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const scratch = mkdtempSync(join(tmpdir(), 'crank-bench-mbox-'));

async function main() {
  let file = values.file;
  if (!file) {
    file = join(scratch, 'bench.mbox');
    const started = performance.now();
    const manifest = await writeMbox(file, {
      size: parseSize(values.size),
      seed: Number(values.seed),
      bigMessageMb: 100,
      garbage: true,
    });
    console.log(
      `generated ${file}: ${(manifest.bytes / MB).toFixed(0)} MB, ${manifest.messages} messages, ` +
        `${manifest.attachments} attachments, in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  const bytes = statSync(file).size;
  const floor = await timed(() => readlineCount(file));
  const raw = await timed(() => newlineCount(file));
  console.log(
    `floor (readline line count): ${rate(bytes, floor.seconds)} MB/s, ${floor.value} lines; ` +
      `raw newline count (Buffer.indexOf): ${rate(bytes, raw.seconds)} MB/s`,
  );

  const rows = [];
  const dataDir = join(scratch, 'data');
  mkdirSync(dataDir);
  const grpcAddress = `127.0.0.1:${await freePort()}`;
  const httpPort = await freePort();
  const env = {
    PATH: process.env.PATH,
    CRANK_DATA_DIR: dataDir,
    CRANK_GRPC_ADDR: grpcAddress,
    CRANK_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    CRANK_CONTROLLER_URL: grpcAddress,
    CRANK_LOG_LEVEL: 'info',
  };
  const apps = [];
  let client;
  try {
    const nodeArgs = (name) => values[`${name}-args`].split(' ').filter(Boolean);
    const controller = await startApp(
      apps,
      join(root, 'apps/controller/dist/main.js'),
      env,
      'controller_started',
      nodeArgs('controller'),
    );
    const worker = await startApp(
      apps,
      join(root, 'apps/worker-email-parser/dist/main.js'),
      env,
      'registered',
      nodeArgs('worker'),
    );
    const location = controllerLocation({ address: grpcAddress, dataDir });
    client = CrankClient.create(
      location.address,
      await callerIdentity(location, 'bench', { home: join(scratch, 'caller-home') }),
    );
    for (const path of paths) {
      const sampler = new RssSampler(100);
      sampler.track('controller', controller.pid);
      sampler.track('worker', worker.pid);
      sampler.start();
      const run = await timed(() => (path === 'grpc' ? viaGrpc(client, file) : viaHttp(httpPort, file)));
      sampler.stop();
      const peak = (name) => sampler.processes.get(name).peak;
      const totals = run.value.totals;
      if (totals?.bytes !== bytes)
        throw new Error(`${path}: the totals say ${totals?.bytes} bytes, the file has ${bytes}`);
      rows.push({
        path,
        mbps: bytes / MB / run.seconds,
        seconds: run.seconds,
        records: run.value.records,
        messages: totals.messages,
        controllerRss: peak('controller'),
        workerRss: peak('worker'),
      });
    }
  } finally {
    client?.close();
    await stopApps(apps);
    if (!values.keep) rmSync(scratch, { recursive: true, force: true });
    else console.log(`kept ${scratch}`);
  }

  const floorMbps = bytes / MB / floor.seconds;
  console.log('');
  console.log('| path | MB/s | x floor | records | peak RSS controller | peak RSS worker |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(
      `| ${row.path} | ${row.mbps.toFixed(1)} | ${(row.mbps / floorMbps).toFixed(2)} | ${row.records} | ` +
        `${(row.controllerRss / 2 ** 20).toFixed(0)} MiB | ${(row.workerRss / 2 ** 20).toFixed(0)} MiB |`,
    );
  }
  console.log(`floor: ${floorMbps.toFixed(1)} MB/s (readline); ${(bytes / MB).toFixed(0)} MB`);
  for (const row of rows) {
    const misses = [];
    if (row.mbps < TARGET_RATIO * floorMbps) misses.push(`throughput under ${TARGET_RATIO} x the floor`);
    if (row.workerRss >= WORKER_RSS_MAX) misses.push('worker RSS at or over 200 MB');
    console.log(`${row.path}: ${misses.length === 0 ? 'targets met' : `MISSED: ${misses.join('; ')}`}`);
    if (misses.length > 0) process.exitCode = 1;
  }
}

/** Streams the file over gRPC in chunks of --chunk-kib; answers the record count and the totals. */
async function viaGrpc(client, file) {
  let records = 0;
  let totals;
  const stream = client.invokeStream('parse.mbox', createReadStream(file, { highWaterMark: chunkBytes }), {
    contentType: 'application/mbox',
  });
  for await (const record of stream) {
    records++;
    if (record.type === 'totals') totals = record.totals;
  }
  return { records, totals };
}

/** PUTs the file to the HTTP stream route and reads the NDJSON answer line by line. */
function viaHttp(port, file) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/stream/parse.mbox',
        method: 'PUT',
        headers: { 'content-length': statSync(file).size },
      },
      (res) => {
        if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}`));
        let records = 0;
        let totals;
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        lines.on('line', (line) => {
          records++;
          const record = JSON.parse(line);
          if (record.type === 'totals') totals = record.totals;
          if (record.error) reject(new Error(`${record.error.code}: ${record.error.message}`));
        });
        lines.on('close', () => resolve({ records, totals }));
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

async function readlineCount(file) {
  let lines = 0;
  for await (const _ of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) lines++;
  return lines;
}

async function newlineCount(file) {
  let lines = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) {
    for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) lines++;
  }
  return lines;
}

async function timed(fn) {
  const started = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

function rate(bytes, seconds) {
  return (bytes / MB / seconds).toFixed(1);
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
