import { NATIVE_TYPED_ARRAYS_ENVIRONMENT, jestConfig } from '../../jest.preset.js';

export default {
  ...jestConfig(import.meta.dirname),
  // onnxruntime-node (the parity test's reference) runs in the test's own realm; see the environment.
  testEnvironment: NATIVE_TYPED_ARRAYS_ENVIRONMENT,
};
