import { jestConfig } from '../../jest.preset.js';

export default {
  ...jestConfig(import.meta.dirname),
  testEnvironment: '<rootDir>/jest.environment.cjs',
};
