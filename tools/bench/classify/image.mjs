#!/usr/bin/env node
// Image classification benchmark: classify.image images/s end to end (client -> controller -> the
// CPU image-classifier worker -> its dynamic batches -> onnxruntime) for calls of 1 and of 16
// images, next to the bare model measured in the same run: the same preprocessing (@crank/vision,
// sharp) and the same ONNX file in this process, with no Crank in between. Both run `--concurrency`
// callers at once. A controller and one worker run as real processes on free loopback ports with
// a scratch data dir. Calls of one image go as raw JPEG bytes, batches as base64 JSON. Needs the
// apps built (npx nx run-many -t build -p controller worker-image-classifier-cpu).
//   node tools/bench/classify/image.mjs [--seconds 10] [--batch 1,16] [--concurrency 2]
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import sharp from 'sharp';
import { compilePreprocessOptions, decodeImage, toTensor } from '@crank/vision';
import { cpuMs, startBenchCluster } from '../jobs/processes.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    batch: { type: 'string', default: '1,16' },
    concurrency: { type: 'string', default: '2' },
  },
});
const seconds = Number(values.seconds);
const batches = values.batch.split(',').map(Number);
const concurrency = Number(values.concurrency);
if (!(seconds > 0)) fail(`--seconds: must be a positive number (got "${values.seconds}")`);
if (!batches.every((n) => Number.isInteger(n) && n >= 1 && n <= 64))
  fail(`--batch: must list integers from 1 to 64, like 1,16 (got "${values.batch}")`);
if (!(Number.isInteger(concurrency) && concurrency >= 1))
  fail(`--concurrency: must be a positive integer (got "${values.concurrency}")`);

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const APP = join(root, 'apps/worker-image-classifier-cpu');
const MODEL = join(APP, 'dist/model/nsfwjs-mobilenet-v2.onnx');
/** The worker's preprocessing: 224 x 224, 0..1, NCHW. */
const PREPROCESS = compilePreprocessOptions({ size: 224, layout: 'nchw' });

/** The evaluation images as photos are uploaded: 800 x 600 JPEG, quality 85. */
async function images() {
  const dir = join(APP, 'test/fixtures');
  const names = readdirSync(dir).filter((name) => /\.(jpg|png)$/.test(name));
  return Promise.all(
    names.map((name) =>
      sharp(readFileSync(join(dir, name)))
        .resize(800, 600, { fit: 'fill' })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: 85 })
        .toBuffer(),
    ),
  );
}

async function main() {
  const jpegs = await images();
  const meanKb = jpegs.reduce((sum, b) => sum + b.length, 0) / jpegs.length / 1024;
  console.log(
    `classify.image benchmark: ${seconds} s per cell, ${concurrency} callers, ${availableParallelism()} CPUs; ` +
      `${jpegs.length} JPEGs 800x600 (${meanKb.toFixed(0)} KiB on average)`,
  );
  const pick = (() => {
    let next = 0;
    return (n) => Array.from({ length: n }, () => jpegs[next++ % jpegs.length]);
  })();

  // The bare model first, while no Crank process runs, with the worker's session options.
  const session = await ort.InferenceSession.create(MODEL, {
    executionProviders: ['cpu'],
    intraOpNumThreads: availableParallelism(),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const bare = {};
  for (const batch of batches) {
    const op = async () => {
      const decoded = await Promise.all(pick(batch).map((bytes) => decodeImage(bytes, PREPROCESS)));
      const { data, dims } = toTensor(decoded, PREPROCESS);
      await session.run({ input: new ort.Tensor('float32', data, dims) });
      return batch;
    };
    await measure(op, concurrency, Math.min(2, seconds));
    bare[batch] = await measure(op, concurrency, seconds);
    console.log(`  bare model, batch ${batch}: ${bare[batch].rate.toFixed(1)} images/s`);
  }
  await session.release();

  const rows = [];
  const cluster = await startBenchCluster({
    name: 'classify-image',
    workerMain: join(APP, 'dist/main.js'),
    workerReady: 'model_ready',
  });
  try {
    const { controller, worker, client } = cluster;
    const watched = { controller: controller.pid, worker: worker.pid };
    for (const batch of batches) {
      const op = async () => {
        const chosen = pick(batch);
        const { output } =
          batch === 1
            ? await client.invoke('classify.image', chosen[0], { contentType: 'image/jpeg' })
            : await client.invoke('classify.image', { images: chosen.map((b) => b.toString('base64')) });
        const answered = output.results?.length ?? (output.label ? 1 : 0);
        if (answered !== batch) throw new Error(`batch ${batch}: ${answered} classifications came back`);
        return batch;
      };
      await measure(op, concurrency, Math.min(2, seconds));
      const crank = await measure(op, concurrency, seconds, watched);
      rows.push({ batch, crank, bare: bare[batch] });
      console.log(`  Crank, batch ${batch}: ${crank.rate.toFixed(1)} images/s`);
    }
  } finally {
    await cluster.close();
  }
  report(rows);
}

/**
 * Runs `op` (which answers how many images it classified) from `loops` loops, each starting
 * another while under `forSeconds`; returns images/s (over the time until the last op ended),
 * call latency p50/p99 (ms) and CPU per image (ms) of `watched`.
 */
async function measure(op, loops, forSeconds, watched = {}) {
  const cpu = () => Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, cpuMs(pid)]));
  const cpuBefore = cpu();
  const latencies = [];
  let images = 0;
  const start = performance.now();
  const deadline = start + forSeconds * 1000;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        images += await op();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedS = (performance.now() - start) / 1000;
  const cpuAfter = cpu();
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    rate: images / elapsedS,
    p50: pct(0.5),
    p99: pct(0.99),
    cpuPerImageMs: Object.fromEntries(
      Object.keys(watched).map((name) => [name, (cpuAfter[name] - cpuBefore[name]) / Math.max(1, images)]),
    ),
  };
}

function report(rows) {
  console.log(
    '\n| images per call | Crank images/s | bare model images/s | Crank / bare | Crank p50 / p99 ms per call | CPU ms per image (controller, worker) |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { batch, crank, bare } of rows) {
    const cpu = Object.values(crank.cpuPerImageMs)
      .map((ms) => ms.toFixed(1))
      .join(', ');
    console.log(
      `| ${batch} | ${crank.rate.toFixed(1)} | ${bare.rate.toFixed(1)} | ${(crank.rate / bare.rate).toFixed(2)} | ` +
        `${crank.p50.toFixed(0)} / ${crank.p99.toFixed(0)} | ${cpu} |`,
    );
  }
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

await main();
