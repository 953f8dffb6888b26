// Proves that the module-boundary rules of eslint.config.js bite: each fixture is linted as if it
// lived in a project, and imports that DESIGN.md section 1 forbids must be reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import config from '../eslint.config.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The fixtures do not exist on disk, so they are linted without type information, with exactly the
// boundary rule options of the workspace config.
// Transitive-dependency checks are off here so that each case fails for the rule it is about.
const [severity, options] = config.find((entry) => entry.rules?.['@nx/enforce-module-boundaries']).rules[
  '@nx/enforce-module-boundaries'
];
const boundaryRule = [severity, { ...options, banTransitiveDependencies: false }];
const restrictedImports = config.find((entry) => entry.rules?.['no-restricted-imports']).rules[
  'no-restricted-imports'
];
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: [
    {
      files: ['**/*.ts'],
      languageOptions: { parser: tseslint.parser },
      plugins: { '@nx': nx },
      rules: { '@nx/enforce-module-boundaries': boundaryRule, 'no-restricted-imports': restrictedImports },
    },
  ],
});

async function boundaryErrors(filePath, code) {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  return result.messages
    .filter((m) => m.ruleId === '@nx/enforce-module-boundaries' || m.ruleId === 'no-restricted-imports')
    .map((m) => m.message);
}

test('a worker app importing the controller fails lint', async () => {
  const errors = await boundaryErrors(
    'apps/worker-streaming/src/boundary-fixture.ts',
    "import { createControllerApp } from '@crank/controller';\nexport const app = createControllerApp;\n",
  );
  assert.ok(
    errors.some((m) => m.includes('scope:worker')),
    `expected a tag constraint error, got ${errors}`,
  );
});

test('an app importing another app by package name fails lint', async () => {
  const errors = await boundaryErrors(
    'apps/worker-streaming/src/boundary-fixture.ts',
    "import { x } from '@crank/app-worker-echo';\nexport const y = x;\n",
  );
  assert.ok(
    errors.some((m) => m.includes('Apps cannot be imported')),
    `expected an app-import error, got ${errors}`,
  );
});

test('a lib other than the testkit importing the controller fails lint', async () => {
  const errors = await boundaryErrors(
    'libs/worker-runtime/src/boundary-fixture.ts',
    "import { createControllerApp } from '@crank/controller';\nexport const app = createControllerApp;\n",
  );
  assert.ok(
    errors.some((m) => m.includes('type:lib') || m.includes('scope:worker-runtime')),
    `expected a tag constraint error, got ${errors}`,
  );
});

test('the testkit may embed the controller', async () => {
  // Imported on first use, as libs/testkit/src/test-cluster.ts does (Nx then forbids static imports).
  const errors = await boundaryErrors(
    'libs/testkit/src/boundary-fixture.ts',
    "export const load = () => import('@crank/controller');\n",
  );
  assert.deepEqual(errors, []);
});

test('an app importing another app by relative path fails lint', async () => {
  const errors = await boundaryErrors(
    'apps/worker-doc-converter/src/boundary-fixture.ts',
    "import { x } from '../../worker-streaming/src/main.js';\nexport const y = x;\n",
  );
  assert.ok(
    errors.some((m) => m.includes('relative or absolute path')),
    `expected a boundary error, got ${errors}`,
  );
});

test('the controller importing @crank/worker-runtime fails lint', async () => {
  const errors = await boundaryErrors(
    'apps/controller/src/boundary-fixture.ts',
    "import { startWorker } from '@crank/worker-runtime';\nexport const s = startWorker;\n",
  );
  assert.ok(
    errors.some((m) => m.includes('scope:controller')),
    `expected a tag constraint error, got ${errors}`,
  );
});

test('@crank/capabilities importing the proto lib fails lint', async () => {
  const errors = await boundaryErrors(
    'libs/capabilities/src/boundary-fixture.ts',
    "import { Payload } from '@crank/proto';\nexport const p = Payload;\n",
  );
  assert.ok(
    errors.some((m) => m.includes('scope:capabilities')),
    `expected a tag constraint error, got ${errors}`,
  );
});

test('a worker importing @crank/worker-runtime and @crank/capabilities passes', async () => {
  const errors = await boundaryErrors(
    'apps/worker-streaming/src/boundary-fixture.ts',
    "import { startWorker } from '@crank/worker-runtime';\nimport { builtinCatalog } from '@crank/capabilities';\nexport const s = [startWorker, builtinCatalog];\n",
  );
  assert.deepEqual(errors, []);
});
