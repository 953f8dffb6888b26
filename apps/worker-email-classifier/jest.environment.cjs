// onnxruntime-node makes its output tensors with this process's typed arrays, and
// onnxruntime-common checks them against the typed arrays of the realm it was loaded in: jest's
// sandbox has its own, and every run would fail "data must be type of Float32Array". Tests of
// this app therefore see the process's typed arrays.
const { TestEnvironment } = require('jest-environment-node');

const TYPED_ARRAYS = [
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Int16Array',
  'Int32Array',
  'Uint8Array',
  'Uint16Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

module.exports = class OnnxTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name];
  }
};
