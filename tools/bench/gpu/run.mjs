#!/usr/bin/env node
// Images/s of the GPU image classifier's kernels and of the CPU worker's model (onnxruntime on
// the CPU) in the same run, at batch 1, 16 and 64, on the same decoded evaluation images, plus
// the per-kernel times CUDA events measured. Needs the GPU app built (nx run
// worker-image-classifier-gpu:build) and a CUDA device; without one it says so and exits 2.
//
//   node tools/bench/gpu/run.mjs [--seconds 5] [--batch 1,16,64] [--out DIR] [--library PATH]
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { decodeImage, toTensor } from '@crank/vision';

const root = join(import.meta.dirname, '../../..');
const app = join(root, 'apps/worker-image-classifier-gpu');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    batch: { type: 'string', default: '1,16,64' },
    out: { type: 'string', default: join(root, 'tmp/bench-gpu') },
    library: { type: 'string', default: join(app, 'build/libcrank_cuda.so') },
  },
});
const seconds = Number(values.seconds);
const batches = values.batch.split(',').map(Number);
mkdirSync(values.out, { recursive: true });

const { CrankLibrary } = await import(join(app, 'dist/crank-library.js'));
const { planModel } = await import(join(app, 'dist/graph-plan.js'));
const { NSFW_MODEL } = await import(join(app, 'dist/nsfw-model.js'));
if (!existsSync(values.library)) {
  console.error(
    `bench:gpu: ${values.library} was not built (nx run worker-image-classifier-gpu:native-cuda)`,
  );
  process.exit(2);
}
const library = CrankLibrary.load(values.library);
if (library.deviceCount === 0) {
  console.error('bench:gpu: no CUDA device found; no figures measured');
  process.exit(2);
}

const fixtures = join(root, 'apps/worker-image-classifier-cpu/test/fixtures');
const images = await Promise.all(
  readdirSync(fixtures)
    .filter((name) => /\.(png|jpg)$/.test(name))
    .map((name) => decodeImage(readFileSync(join(fixtures, name)), NSFW_MODEL.preprocess)),
);
const modelBytes = readFileSync(join(app, 'dist/model/nsfwjs-mobilenet-v2.onnx'));
const plan = planModel(modelBytes);
const context = library.open(plan, { streams: 2, maxBatch: Math.max(...batches) });
const session = await ort.InferenceSession.create(modelBytes, {
  executionProviders: ['cpu'],
  intraOpNumThreads: availableParallelism(),
  graphOptimizationLevel: 'all',
});
const batchOf = (size) => Array.from({ length: size }, (_, i) => images[i % images.length]);

/** Runs `once` for `seconds` (after one untimed run) with `parallel` runs in flight; images/s. */
async function measure(size, parallel, once) {
  await once();
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < until) {
        await once();
        done += size;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

const rows = [];
let kernelMs = new Float32Array(plan.kernels.length);
for (const size of batches) {
  const pixels = batchOf(size).map((image) => image.pixels);
  const gpu = await measure(size, 2, async () => {
    kernelMs = (await context.run(pixels)).kernelMs;
  });
  const tensor = toTensor(batchOf(size), NSFW_MODEL.preprocess);
  const input = { [session.inputNames[0]]: new ort.Tensor('float32', tensor.data, [...tensor.dims]) };
  const cpu = await measure(size, 1, () => session.run(input));
  rows.push({ batch: size, gpuImagesPerSecond: gpu, cpuImagesPerSecond: cpu, speedup: gpu / cpu });
  console.info(`batch ${size}: GPU ${gpu.toFixed(1)} images/s, CPU ${cpu.toFixed(1)} images/s`);
}
const kernels = plan.kernels.map((name, i) => ({ name, ms: kernelMs[i] }));
await context.close();
await session.release();

const table = [
  '| images per batch | GPU kernels images/s | onnxruntime CPU images/s | GPU / CPU |',
  '| ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.batch} | ${r.gpuImagesPerSecond.toFixed(1)} | ${r.cpuImagesPerSecond.toFixed(1)} | ${r.speedup.toFixed(1)} |`,
  ),
  '',
  `Per-kernel times (CUDA events) of the last batch of ${batches.at(-1)}:`,
  '',
  '| kernel | ms |',
  '| --- | ---: |',
  ...kernels.map((k) => `| ${k.name} | ${k.ms.toFixed(3)} |`),
].join('\n');
writeFileSync(join(values.out, 'bench-gpu.json'), JSON.stringify({ seconds, rows, kernels }, null, 2));
writeFileSync(join(values.out, 'bench-gpu.md'), table + '\n');
console.info(table);
