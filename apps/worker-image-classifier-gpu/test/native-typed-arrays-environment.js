import { TestEnvironment } from 'jest-environment-node';

/** The typed arrays a native addon may hand to, or check against, code running in a test. */
const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

/**
 * Jest's Node environment with Node's own typed array classes. Each test file runs in a realm of
 * its own, whose Float32Array is not the one onnxruntime-node builds its output tensors with, and
 * onnxruntime checks them with `instanceof`: classification would fail under jest only.
 */
export default class NativeTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED_ARRAYS) this.global[name] = globalThis[name];
  }
}
