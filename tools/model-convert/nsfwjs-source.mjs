/**
 * The Keras MobileNetV2 that nsfwjs bundles (224x224 RGB in, five classes out), read from the
 * npm package as it ships: the layer JSON and the base64 weight shard, each wrapped in a JS module.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeWeights } from './tfjs-weights.mjs';

/** nsfwjs's class names, in the order of the model's outputs (its `NSFW_CLASSES`). */
export const NSFWJS_LABELS = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'];

/**
 * @returns {Promise<{ modelJson: { modelTopology: any, weightsManifest: any[] },
 *   weightBytes: Uint8Array, weights: Map<string, import('./tfjs-weights.mjs').Weight>, version: string }>}
 */
export async function loadNsfwjsMobileNetV2() {
  const { MobileNetV2Model } = await import('nsfwjs/models/mobilenet_v2');
  const modelJson = (await MobileNetV2Model.modelJson()).default;
  const shards = [];
  for (const bundle of MobileNetV2Model.weightBundles) {
    const base64 = (await bundle()).default;
    if (typeof base64 !== 'string') throw new Error('nsfwjs: a weight bundle is not base64 text');
    shards.push(Buffer.from(base64, 'base64'));
  }
  const weightBytes = new Uint8Array(Buffer.concat(shards));
  const specs = modelJson.weightsManifest.flatMap((group) => group.weights);
  // nsfwjs exports no ./package.json: read it from the folder its entry point lives in.
  const entry = fileURLToPath(import.meta.resolve('nsfwjs'));
  const manifest = join(entry.slice(0, entry.lastIndexOf('/dist/')), 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8'));
  return { modelJson, weightBytes, weights: decodeWeights(specs, weightBytes), version };
}
