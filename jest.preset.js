// Shared Jest settings. Jest runs in native ESM mode (`node --experimental-vm-modules`) because
// NestJS 12 ships ESM only; @swc/jest strips types and emits legacy decorators with metadata.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const workspaceRoot = dirname(fileURLToPath(import.meta.url));
const libs = ['proto', 'capabilities', 'worker-runtime', 'controller-client', 'testkit', 'mail', 'vision'];

/** The test environment of projects whose tests run onnxruntime-node (see its comment). */
export const NATIVE_TYPED_ARRAYS_ENVIRONMENT = join(
  workspaceRoot,
  'tools/jest/native-typed-arrays-environment.js',
);

/** @param {string} projectRoot absolute path of the project using the preset */
export function jestConfig(projectRoot) {
  return {
    rootDir: projectRoot,
    displayName: projectRoot.slice(workspaceRoot.length + 1),
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.test.ts'],
    transform: {
      '^.+\\.ts$': [
        '@swc/jest',
        {
          jsc: {
            target: 'es2022',
            parser: { syntax: 'typescript', decorators: true },
            transform: { legacyDecorator: true, decoratorMetadata: true },
          },
          module: { type: 'es6' },
          sourceMaps: 'inline',
        },
      ],
    },
    moduleNameMapper: {
      ...Object.fromEntries(
        libs.map((lib) => [`^@crank/${lib}$`, join(workspaceRoot, 'libs', lib, 'src/index.ts')]),
      ),
      '^@crank/worker-runtime/nest$': join(workspaceRoot, 'libs/worker-runtime/src/nest/index.ts'),
      // The controller is an app that is also a package, embedded by @crank/testkit.
      '^@crank/controller$': join(workspaceRoot, 'apps/controller/src/index.ts'),
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    testTimeout: 30_000,
  };
}
