import { NATIVE_TYPED_ARRAYS_ENVIRONMENT, jestConfig } from '../../jest.preset.js';

export default {
  ...jestConfig(import.meta.dirname),
  // onnxruntime-node runs in the test's own realm; see the environment's comment.
  testEnvironment: NATIVE_TYPED_ARRAYS_ENVIRONMENT,
};
