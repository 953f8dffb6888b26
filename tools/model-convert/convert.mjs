#!/usr/bin/env node
// Converts nsfwjs's Keras MobileNetV2 (TF.js layers format, uint8-quantized weights) to ONNX:
//   node tools/model-convert/convert.mjs --out <file.onnx>
// Weights are de-quantized as TF.js does, batch norm is folded into the convolutions, and the
// graph takes NCHW float32 in [0, 1]. Build step of worker-image-classifier-cpu (its `model`
// target); the model's labels go into the file's metadata.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { kerasToOnnx } from './keras-to-onnx.mjs';
import { loadNsfwjsMobileNetV2, NSFWJS_LABELS } from './nsfwjs-source.mjs';
import { encodeModel } from './onnx-model.mjs';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
if (!values.out) {
  console.error('usage: convert.mjs --out <file.onnx>');
  process.exit(2);
}

const source = await loadNsfwjsMobileNetV2();
const graph = kerasToOnnx(source.modelJson.modelTopology.model_config.config, source.weights);
const bytes = encodeModel(graph, {
  name: 'nsfwjs-mobilenet-v2',
  docString: `nsfwjs ${source.version} MobileNetV2 (MIT), converted by tools/model-convert`,
  metadata: { labels: NSFWJS_LABELS.join(','), source: `nsfwjs@${source.version}`, layout: 'NCHW' },
});
const out = resolve(values.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(
  `model-convert: ${out} (${(bytes.length / 1e6).toFixed(1)} MB, ${graph.nodes.length} nodes, nsfwjs@${source.version})`,
);
