import { jestConfig } from '../../jest.preset.js';

export default {
  ...jestConfig(import.meta.dirname),
  // onnxruntime-node (the parity test's reference) runs in the test's own realm; see the environment.
  testEnvironment: '<rootDir>/test/native-typed-arrays-environment.js',
};
