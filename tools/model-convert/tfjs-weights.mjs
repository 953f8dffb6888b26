/**
 * Reads the weights of a TF.js layers model: the manifest's specs over the concatenated shard
 * bytes. Quantized weights are turned back into float32 exactly as TF.js does when it loads them
 * (`q * scale + min`, rounded once to float32), so that the converted model starts from the very
 * numbers the original runs with.
 */

const BYTES_PER = { float32: 4, int32: 4, uint8: 1, uint16: 2, bool: 1 };

/**
 * @typedef {{ name: string, shape: number[], dtype: string,
 *   quantization?: { dtype: 'uint8' | 'uint16' | 'float16', min?: number, scale?: number } }} WeightSpec
 * @typedef {{ shape: number[], data: Float32Array }} Weight
 */

/** Number of elements of a tensor of `shape`. */
export function sizeOf(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * The float32 values of every weight, by name.
 *
 * @param {WeightSpec[]} specs - the manifest's weights, in shard order
 * @param {Uint8Array} bytes - the shards, concatenated
 * @returns {Map<string, Weight>}
 */
export function decodeWeights(specs, bytes) {
  const weights = new Map();
  let offset = 0;
  for (const spec of specs) {
    const count = sizeOf(spec.shape);
    const q = spec.quantization;
    if (spec.dtype !== 'float32') throw new Error(`${spec.name}: dtype ${spec.dtype} is not supported`);
    let data;
    if (q) {
      if (q.dtype !== 'uint8' && q.dtype !== 'uint16')
        throw new Error(`${spec.name}: quantization ${q.dtype} is not supported (uint8, uint16)`);
      const width = BYTES_PER[q.dtype];
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * width);
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const v = width === 1 ? view.getUint8(i) : view.getUint16(i * 2, true);
        data[i] = v * q.scale + q.min;
      }
      offset += count * width;
    } else {
      data = new Float32Array(bytes.slice(offset, offset + count * 4).buffer);
      offset += count * 4;
    }
    weights.set(spec.name, { shape: spec.shape, data });
  }
  if (offset !== bytes.length)
    throw new Error(`weights: the manifest covers ${offset} bytes, the shards hold ${bytes.length}`);
  return weights;
}
