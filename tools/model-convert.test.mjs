// Unit tests of tools/model-convert: de-quantisation, kernel layouts, padding, batch-norm folding,
// and a small Keras model converted and run by onnxruntime against the same model computed by hand.
// The whole MobileNetV2 is checked against TF.js by worker-image-classifier-cpu's tests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { foldBatchNorm } from './model-convert/fold-batch-norm.mjs';
import { kerasToOnnx, INPUT_NAME, OUTPUT_NAME } from './model-convert/keras-to-onnx.mjs';
import { convKernelToOnnx, depthwiseKernelToOnnx, samePadding } from './model-convert/layouts.mjs';
import { encodeModel } from './model-convert/onnx-model.mjs';
import { decodeWeights } from './model-convert/tfjs-weights.mjs';

const close = (actual, expected, tolerance = 1e-5) => {
  assert.equal(actual.length, expected.length);
  actual.forEach((value, i) =>
    assert.ok(Math.abs(value - expected[i]) <= tolerance, `[${i}]: ${value} is not ${expected[i]}`),
  );
};

describe('decodeWeights', () => {
  it('de-quantises uint8 as TF.js does (q * scale + min), and reads float32 as it is', () => {
    const float = new Float32Array([1.5, -2.25]);
    const bytes = new Uint8Array([0, 1, 255, ...new Uint8Array(float.buffer)]);
    const weights = decodeWeights(
      [
        { name: 'q', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 0.5 } },
        { name: 'f', shape: [2], dtype: 'float32' },
      ],
      bytes,
    );
    assert.deepEqual([...weights.get('q').data], [-1, -0.5, 126.5]);
    assert.deepEqual([...weights.get('f').data], [1.5, -2.25]);
  });

  it('refuses shards the manifest does not cover exactly', () => {
    assert.throws(
      () => decodeWeights([{ name: 'f', shape: [1], dtype: 'float32' }], new Uint8Array(8)),
      /the manifest covers 4 bytes, the shards hold 8/,
    );
  });
});

describe('layouts', () => {
  it('moves a Conv2D kernel from [kh, kw, in, out] to [out, in, kh, kw]', () => {
    // kh=1, kw=2, in=1, out=2: value = 10 * x + o
    const { data, shape } = convKernelToOnnx(Float32Array.of(0, 1, 10, 11), [1, 2, 1, 2]);
    assert.deepEqual(shape, [2, 1, 1, 2]);
    assert.deepEqual([...data], [0, 10, 1, 11]);
  });

  it('moves a depthwise kernel from [kh, kw, in, mult] to [in * mult, 1, kh, kw]', () => {
    // kh=1, kw=1, in=2, mult=2: value = 10 * i + m
    const { data, shape } = depthwiseKernelToOnnx(Float32Array.of(0, 1, 10, 11), [1, 1, 2, 2]);
    assert.deepEqual(shape, [4, 1, 1, 1]);
    assert.deepEqual([...data], [0, 1, 10, 11]);
  });

  it("pads as TensorFlow's same: the odd pixel after", () => {
    assert.deepEqual(samePadding(224, 3, 1), [1, 1]);
    assert.deepEqual(samePadding(224, 3, 2), [0, 1]);
    assert.deepEqual(samePadding(7, 1, 1), [0, 0]);
  });
});

describe('foldBatchNorm', () => {
  it('gives the convolution followed by batch norm, per output channel', () => {
    const kernel = Float32Array.of(1, 2, 3, 4); // two output channels of two weights
    const norm = {
      gamma: Float32Array.of(2, 0.5),
      beta: Float32Array.of(1, -1),
      mean: Float32Array.of(0.5, 2),
      variance: Float32Array.of(3, 0.25),
      epsilon: 1,
    };
    const folded = foldBatchNorm(kernel, Float32Array.of(0.5, 0), norm);
    // Channel 0: scale = 2 / sqrt(4) = 1; channel 1: scale = 0.5 / sqrt(1.25)
    const s1 = 0.5 / Math.sqrt(1.25);
    close(folded.kernel, [1, 2, 3 * s1, 4 * s1]);
    close(folded.bias, [(0.5 - 0.5) * 1 + 1, (0 - 2) * s1 - 1]);
  });
});

describe('kerasToOnnx', () => {
  /**
   * A 4 x 4 x 2 input; zero padding then a 3 x 3 stride-2 Conv2D (2 filters) with batch norm and
   * ReLU6; a 'same' DepthwiseConv2D with batch norm; an Add of the two; global pooling; a softmax
   * Dense of 3. Weights are small integers so the hand computation is exact.
   */
  const layers = [
    layer('in', 'InputLayer', { batch_input_shape: [null, 4, 4, 2] }, []),
    layer(
      'pad',
      'ZeroPadding2D',
      {
        padding: [
          [0, 1],
          [0, 1],
        ],
      },
      ['in'],
    ),
    layer(
      'conv',
      'Conv2D',
      { kernel_size: [3, 3], strides: [2, 2], padding: 'valid', use_bias: false, activation: 'linear' },
      ['pad'],
    ),
    layer('conv_bn', 'BatchNormalization', { axis: -1, epsilon: 0, center: true, scale: true }, ['conv']),
    layer('relu', 'ReLU', { max_value: 6, negative_slope: 0, threshold: 0 }, ['conv_bn']),
    layer(
      'dw',
      'DepthwiseConv2D',
      {
        kernel_size: [3, 3],
        strides: [1, 1],
        padding: 'same',
        use_bias: false,
        activation: 'linear',
        depth_multiplier: 1,
      },
      ['relu'],
    ),
    layer('dw_bn', 'BatchNormalization', { axis: -1, epsilon: 0, center: true, scale: true }, ['dw']),
    layer('add', 'Add', {}, ['relu', 'dw_bn']),
    layer('gap', 'GlobalAveragePooling2D', {}, ['add']),
    layer('drop', 'Dropout', { rate: 0.5 }, ['gap']),
    layer('dense', 'Dense', { units: 3, activation: 'softmax', use_bias: true }, ['drop']),
  ];
  const seq = (n, f) => Float32Array.from({ length: n }, (_, i) => f(i));
  const weights = new Map(
    Object.entries({
      'conv/kernel': { shape: [3, 3, 2, 2], data: seq(36, (i) => ((i * 7) % 5) - 2) },
      'conv_bn/gamma': { shape: [2], data: Float32Array.of(0.5, 1) },
      'conv_bn/beta': { shape: [2], data: Float32Array.of(0.25, -0.5) },
      'conv_bn/moving_mean': { shape: [2], data: Float32Array.of(1, -1) },
      'conv_bn/moving_variance': { shape: [2], data: Float32Array.of(4, 1) },
      'dw/depthwise_kernel': { shape: [3, 3, 2, 1], data: seq(18, (i) => ((i * 3) % 4) - 1.5) },
      'dw_bn/gamma': { shape: [2], data: Float32Array.of(1, 2) },
      'dw_bn/beta': { shape: [2], data: Float32Array.of(0, 0.5) },
      'dw_bn/moving_mean': { shape: [2], data: Float32Array.of(0, 1) },
      'dw_bn/moving_variance': { shape: [2], data: Float32Array.of(1, 4) },
      'dense/kernel': { shape: [2, 3], data: Float32Array.of(1, -1, 0.5, 0.25, 2, -1) },
      'dense/bias': { shape: [3], data: Float32Array.of(0, 0.1, -0.1) },
    }),
  );
  const config = { layers, input_layers: [['in', 0, 0]], output_layers: [['dense', 0, 0]] };

  it('runs in onnxruntime and answers what the Keras model computes', async () => {
    const graph = kerasToOnnx(config, weights);
    assert.deepEqual(graph.input, { name: INPUT_NAME, shape: ['batch', 2, 4, 4] });
    assert.deepEqual(graph.output, { name: OUTPUT_NAME, shape: ['batch', 3] });
    assert.ok(!graph.nodes.some((node) => node.op === 'BatchNormalization'), 'batch norm is folded');
    const session = await ort.InferenceSession.create(encodeModel(graph, { name: 'tiny' }));
    const nhwc = seq(32, (i) => ((i * 5) % 9) / 8);
    const nchw = new Float32Array(32);
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 4; x++)
        for (let c = 0; c < 2; c++) nchw[c * 16 + y * 4 + x] = nhwc[(y * 4 + x) * 2 + c];
    const out = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', nchw, [1, 2, 4, 4]) });
    close(out[OUTPUT_NAME].data, kerasByHand(nhwc, weights));
    await session.release();
  });

  it('refuses a layer it does not know, by name', () => {
    const odd = { ...config, layers: [...layers.slice(0, 1), layer('lstm', 'LSTM', {}, ['in'])] };
    assert.throws(() => kerasToOnnx(odd, weights), /lstm: layer class LSTM is not supported/);
  });

  it('refuses weights no layer uses', () => {
    const extra = new Map([...weights, ['ghost/kernel', { shape: [1], data: Float32Array.of(1) }]]);
    assert.throws(() => kerasToOnnx(config, extra), /weights: ghost\/kernel were not used by any layer/);
  });
});

function layer(name, class_name, config, inbound) {
  return {
    name,
    class_name,
    config: { name, data_format: 'channels_last', dilation_rate: [1, 1], ...config },
    inbound_nodes: inbound.length ? [inbound.map((source) => [source, 0, 0, {}])] : [],
  };
}

/** The test model of `kerasToOnnx`, channels last, in float64: what Keras computes. */
function kerasByHand(input, weights) {
  const w = (name) => weights.get(name).data;
  const at = (t, h, wd, c) => (y, x, ch) =>
    y < 0 || x < 0 || y >= h || x >= wd ? 0 : t[(y * wd + x) * c + ch];
  const bn = (v, name, ch) =>
    ((v - w(`${name}/moving_mean`)[ch]) * w(`${name}/gamma`)[ch]) /
      Math.sqrt(w(`${name}/moving_variance`)[ch]) +
    w(`${name}/beta`)[ch];
  // Pad bottom/right by one (5 x 5), then 3 x 3 stride 2: 2 x 2 x 2.
  const inp = at(input, 4, 4, 2);
  const conv = new Float64Array(8);
  for (let oy = 0; oy < 2; oy++)
    for (let ox = 0; ox < 2; ox++)
      for (let o = 0; o < 2; o++) {
        let sum = 0;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++)
            for (let i = 0; i < 2; i++)
              sum += inp(oy * 2 + ky, ox * 2 + kx, i) * w('conv/kernel')[((ky * 3 + kx) * 2 + i) * 2 + o];
        conv[(oy * 2 + ox) * 2 + o] = Math.min(6, Math.max(0, bn(sum, 'conv_bn', o)));
      }
  // Depthwise 3 x 3 'same' (pad 1 each side), batch norm, then add.
  const relu = at(conv, 2, 2, 2);
  const added = new Float64Array(8);
  for (let y = 0; y < 2; y++)
    for (let x = 0; x < 2; x++)
      for (let c = 0; c < 2; c++) {
        let sum = 0;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++)
            sum += relu(y + ky - 1, x + kx - 1, c) * w('dw/depthwise_kernel')[(ky * 3 + kx) * 2 + c];
        added[(y * 2 + x) * 2 + c] = conv[(y * 2 + x) * 2 + c] + bn(sum, 'dw_bn', c);
      }
  const pooled = [0, 1].map((c) => (added[c] + added[2 + c] + added[4 + c] + added[6 + c]) / 4);
  const logits = [0, 1, 2].map(
    (u) => pooled[0] * w('dense/kernel')[u] + pooled[1] * w('dense/kernel')[3 + u] + w('dense/bias')[u],
  );
  const exp = logits.map(Math.exp);
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((e) => e / total);
}
