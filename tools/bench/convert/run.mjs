#!/usr/bin/env node
// Conversion benchmark: convert.document calls/s end to end (client -> controller -> the
// doc-converter worker -> its conversion threads) for Markdown -> PDF and PNG -> WebP, each at
// concurrency 1 and 4. A controller and one doc-converter worker run as real processes on free
// loopback ports with a scratch data dir; files go as raw bytes with the options in the media type
// and come back raw (reply=raw), as a caller moving files would send them. Needs the apps built.
//   node tools/bench/convert/run.mjs [--seconds 10] [--concurrency 1,4] [--threads N]
//     (--threads sets CRANK_CONVERT_THREADS and CRANK_CONVERT_CONCURRENCY; default the worker's own)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { CrankClient, callerIdentity, controllerLocation } from '@crank/controller-client';
import { cpuMs, freePort, startApp, stopApps } from '../jobs/processes.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,4' },
    threads: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const levels = values.concurrency.split(',').map(Number);
if (!(seconds > 0)) fail(`--seconds: must be a positive number (got "${values.seconds}")`);
if (!levels.every((n) => Number.isInteger(n) && n >= 1))
  fail(`--concurrency: must list positive integers, like 1,4 (got "${values.concurrency}")`);
if (values.threads !== undefined && !/^[1-9]\d*$/.test(values.threads))
  fail(`--threads: must be a positive integer (got "${values.threads}")`);

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A report of a few pages: headings, paragraphs with emphasis and links, lists, code and tables. */
function markdownReport() {
  const section = (i) =>
    [
      `## ${i}. Quarter results, region ${i}`,
      '',
      `Revenue in region ${i} grew by **${10 + i} percent** over the quarter, driven by the new ` +
        `*subscription* plans; see [the dashboard](https://example.com/regions/${i}) for the detail.`,
      '',
      '- new customers: 1,204',
      '- churn: 2.1 percent',
      '- support tickets closed within a day: 93 percent',
      '',
      '```',
      `total = sum(region[${i}].invoices)`,
      '```',
      '',
      '| month | revenue | cost |',
      '| --- | --- | --- |',
      '| July | 120,400 | 80,100 |',
      '| August | 131,900 | 82,700 |',
      '',
    ].join('\n');
  return Buffer.from(
    ['# Quarterly report', '', ...Array.from({ length: 6 }, (_, i) => section(i + 1))].join('\n'),
  );
}

/** A 1024 x 768 photo-like PNG: soft noise over a gradient, so that neither codec has it easy. */
async function photoPng() {
  const { width, height } = { width: 1024, height: 768 };
  const gradient = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      gradient.set([(x * 255) / width, (y * 255) / height, 128], (y * width + x) * 3);
  const noise = await sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 30 },
    },
  })
    .blur(1.2)
    .png()
    .toBuffer();
  return sharp(gradient, { raw: { width, height, channels: 3 } })
    .composite([{ input: noise, blend: 'overlay' }])
    .png()
    .toBuffer();
}

async function main() {
  const markdown = markdownReport();
  const png = await photoPng();
  const cases = [
    { name: 'Markdown -> PDF', input: markdown, contentType: 'text/markdown; to=pdf; reply=raw' },
    { name: 'PNG -> WebP', input: png, contentType: 'image/png; to=webp; reply=raw' },
  ];
  const threads = values.threads ?? `default (${availableParallelism()})`;
  console.log(
    `convert benchmark: ${seconds} s per cell, worker threads ${threads}, ${availableParallelism()} CPUs; ` +
      `Markdown ${markdown.length} B, PNG 1024x768 ${png.length} B`,
  );

  const scratch = mkdtempSync(join(tmpdir(), 'crank-bench-convert-'));
  const dataDir = join(scratch, 'data');
  mkdirSync(dataDir);
  const grpcAddress = `127.0.0.1:${await freePort()}`;
  const env = {
    PATH: process.env.PATH,
    CRANK_DATA_DIR: dataDir,
    CRANK_GRPC_ADDR: grpcAddress,
    CRANK_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
    CRANK_CONTROLLER_URL: grpcAddress,
    CRANK_LOG_LEVEL: 'warn',
    ...(values.threads
      ? { CRANK_CONVERT_THREADS: values.threads, CRANK_CONVERT_CONCURRENCY: values.threads }
      : {}),
  };
  const apps = [];
  let client;
  const rows = [];
  try {
    const app = (main, ready) => startApp(apps, join(root, main), { ...env, CRANK_LOG_LEVEL: 'info' }, ready);
    const controller = await app('apps/controller/dist/main.js', 'controller_started');
    const worker = await app('apps/worker-doc-converter/dist/main.js', 'registered');
    const location = controllerLocation({ address: grpcAddress, dataDir });
    client = CrankClient.create(
      location.address,
      await callerIdentity(location, 'bench', { home: join(scratch, 'home') }),
    );
    const watched = { controller: controller.pid, worker: worker.pid };
    const probe = await client.invoke('convert.document', markdown, { contentType: 'text/markdown; to=pdf' });
    console.log(`  the Markdown makes a PDF of ${probe.output.metadata.pages} pages`);
    for (const c of cases) {
      const op = async () => {
        const { output } = await client.invoke('convert.document', c.input, { contentType: c.contentType });
        if (!Buffer.isBuffer(output) || output.length === 0) throw new Error(`${c.name}: no file came back`);
        return output.length;
      };
      // Warm up: threads started, libraries loaded and compiled, on as many threads as will run.
      await measure(op, Math.max(...levels), Math.min(2, seconds));
      for (const concurrency of levels) {
        const result = await measure(op, concurrency, seconds, watched);
        rows.push({ name: c.name, concurrency, ...result });
        console.log(`  ${c.name}, concurrency ${concurrency}: ${result.rate.toFixed(1)} conversions/s`);
      }
    }
  } finally {
    client?.close();
    await stopApps(apps);
    rmSync(scratch, { recursive: true, force: true });
  }
  report(rows);
}

/**
 * Runs `op` from `loops` loops, each starting another op while under `forSeconds`; returns ops/s
 * (over the time until the last op ended), latency p50/p99 (ms), output size and CPU per op (ms)
 * of `watched`.
 */
async function measure(op, loops, forSeconds, watched = {}) {
  const cpu = () => Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, cpuMs(pid)]));
  const cpuBefore = cpu();
  const latencies = [];
  let bytesOut = 0;
  const start = performance.now();
  const deadline = start + forSeconds * 1000;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        bytesOut = await op();
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
    bytesOut,
    cpuPerOpMs: Object.fromEntries(
      Object.keys(watched).map((name) => [
        name,
        (cpuAfter[name] - cpuBefore[name]) / Math.max(1, latencies.length),
      ]),
    ),
  };
}

function report(rows) {
  const col = (v, w) => String(v).padStart(w);
  console.log('\n  conversion        conc  conversions/s  p50 ms  p99 ms  out bytes  CPU ms/conversion');
  for (const r of rows) {
    const cpu = Object.entries(r.cpuPerOpMs)
      .map(([name, ms]) => `${name} ${ms.toFixed(1)}`)
      .join(', ');
    console.log(
      `  ${r.name.padEnd(16)} ${col(r.concurrency, 5)} ${col(r.rate.toFixed(1), 14)} ${col(r.p50.toFixed(0), 7)} ` +
        `${col(r.p99.toFixed(0), 7)} ${col(r.bytesOut, 10)}  ${cpu}`,
    );
  }
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

await main();
