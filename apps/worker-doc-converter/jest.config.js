import { jestConfig } from '../../jest.preset.js';

export default {
  ...jestConfig(import.meta.dirname),
  // OCR runs onnxruntime-node in the test's own realm; see the environment's comment.
  testEnvironment: '<rootDir>/test/native-typed-arrays-environment.js',
};
