import { jestConfig } from '../../jest.preset.js';

export default {
  ...jestConfig(import.meta.dirname),
  // onnxruntime-node runs in the test's own realm; see the environment's comment.
  testEnvironment: '<rootDir>/test/native-typed-arrays-environment.js',
};
