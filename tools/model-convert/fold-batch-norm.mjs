/**
 * Batch normalisation folded into the convolution before it. At inference a batch-norm layer is
 * a per-channel affine map, `y = (x - mean) * gamma / sqrt(variance + epsilon) + beta`, so it
 * becomes the convolution's weights scaled per output channel and a bias: one operator less per
 * block, and the same numbers up to float32 rounding (computed here in float64, rounded once).
 */

/**
 * @param {Float32Array} kernel - ONNX layout `[out, in/group, kh, kw]`
 * @param {Float32Array | undefined} bias - `[out]`, or none
 * @param {{ gamma?: Float32Array, beta?: Float32Array, mean: Float32Array, variance: Float32Array,
 *   epsilon: number }} norm - `gamma` and `beta` absent when the layer has no scale or centre
 * @returns {{ kernel: Float32Array, bias: Float32Array }}
 */
export function foldBatchNorm(kernel, bias, norm) {
  const out = norm.mean.length;
  if (kernel.length % out !== 0)
    throw new Error(`fold: a kernel of ${kernel.length} values does not split into ${out} channels`);
  const perChannel = kernel.length / out;
  const folded = new Float32Array(kernel.length);
  const foldedBias = new Float32Array(out);
  for (let c = 0; c < out; c++) {
    const gamma = norm.gamma ? norm.gamma[c] : 1;
    const beta = norm.beta ? norm.beta[c] : 0;
    const scale = gamma / Math.sqrt(norm.variance[c] + norm.epsilon);
    for (let i = c * perChannel; i < (c + 1) * perChannel; i++) folded[i] = kernel[i] * scale;
    foldedBias[c] = ((bias ? bias[c] : 0) - norm.mean[c]) * scale + beta;
  }
  return { kernel: folded, bias: foldedBias };
}
