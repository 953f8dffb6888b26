// Flat ESLint config for the whole workspace. Module boundaries encode DESIGN.md section 1:
// tools/check-boundaries.test.mjs lints fixtures that must fail, proving the rules bite.
import nx from '@nx/eslint-plugin';
import importX from 'eslint-plugin-import-x';
import prettier from 'eslint-config-prettier';
import jsoncParser from 'jsonc-eslint-parser';

/**
 * Which project tags each tag may depend on (DESIGN.md section 1). Apps are never importable, with
 * one exception: the controller is also published as a package (`@crank/controller`) so that
 * `@crank/testkit` can embed one in a worker author's tests. Its project.json says
 * `"projectType": "library"` for that reason only (Nx forbids importing an application outright,
 * whatever the tags); it stays a deployable, tagged `type:app`. Testkit is tagged `type:testing`
 * rather than `type:lib`, so the rule that keeps every lib off apps does not apply to it, and its
 * own list names `scope:controller`; no other lib may depend on the controller.
 */
export const depConstraints = [
  { sourceTag: 'scope:proto', onlyDependOnLibsWithTags: [] },
  { sourceTag: 'scope:capabilities', onlyDependOnLibsWithTags: [] },
  // Mail parsing shared by the email workers (parser, classifier): sees capabilities' types only.
  { sourceTag: 'scope:mail', onlyDependOnLibsWithTags: ['scope:capabilities'] },
  // Image preprocessing shared by the image workers (CPU, GPU): sees capabilities' errors only.
  { sourceTag: 'scope:vision', onlyDependOnLibsWithTags: ['scope:capabilities'] },
  { sourceTag: 'scope:controller-client', onlyDependOnLibsWithTags: ['scope:capabilities', 'scope:proto'] },
  {
    sourceTag: 'scope:worker-runtime',
    onlyDependOnLibsWithTags: ['scope:capabilities', 'scope:proto', 'scope:controller-client'],
  },
  {
    sourceTag: 'scope:testkit',
    onlyDependOnLibsWithTags: [
      'scope:controller',
      'scope:worker-runtime',
      'scope:controller-client',
      'scope:capabilities',
      'scope:proto',
    ],
  },
  { sourceTag: 'scope:controller', onlyDependOnLibsWithTags: ['scope:capabilities', 'scope:proto'] },
  {
    sourceTag: 'scope:worker',
    onlyDependOnLibsWithTags: ['scope:worker-runtime', 'scope:capabilities', 'scope:mail', 'scope:vision'],
  },
  {
    sourceTag: 'scope:e2e',
    onlyDependOnLibsWithTags: [
      'scope:controller',
      'scope:testkit',
      'scope:worker-runtime',
      'scope:controller-client',
      'scope:capabilities',
      'scope:proto',
    ],
  },
  { sourceTag: 'type:lib', notDependOnLibsWithTags: ['type:app', 'type:e2e', 'type:testing'] },
  { sourceTag: 'type:testing', notDependOnLibsWithTags: ['type:e2e'] },
];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  prettier,
  {
    ignores: [
      '**/dist',
      '**/node_modules',
      '**/generated/**',
      '.nx',
      'tmp',
      'coverage',
      'tools/lint-fixtures/**',
    ],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { enforceBuildableLibDependency: false, banTransitiveDependencies: true, allow: [], depConstraints },
      ],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // Apps are deployables, never libraries: share code through a lib under libs/.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@crank/app-*'], message: 'Apps cannot be imported; move shared code to a lib.' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.type='MemberExpression'][callee.object.name=/^(describe|it|test)$/][callee.property.name='only']",
          message: 'Focused tests (.only) silently skip the rest of the suite.',
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', '**/test/**/*.ts'],
    rules: { '@typescript-eslint/explicit-module-boundary-types': 'off' },
  },
  {
    files: ['libs/*/package.json', 'apps/controller/package.json'],
    languageOptions: { parser: jsoncParser },
    rules: {
      '@nx/dependency-checks': [
        'error',
        {
          buildTargets: ['build'],
          checkMissingDependencies: true,
          checkObsoleteDependencies: true,
          checkVersionMismatches: true,
          ignoredFiles: [
            '{projectRoot}/**/*.spec.ts',
            '{projectRoot}/test/**/*',
            '{projectRoot}/jest.config.js',
          ],
          // The controller (a published app) needs these at run time though it imports neither:
          // @nestjs/swagger loads @fastify/static for /docs, @nestjs/core needs rxjs, and the
          // dashboard serves htm's Preact bundle as a file (resolved, never imported).
          ignoredDependencies: ['@fastify/static', 'rxjs', 'htm'],
        },
      ],
    },
  },
];
