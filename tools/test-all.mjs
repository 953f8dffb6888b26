#!/usr/bin/env node
// `npm test`: formatting, generated-code freshness, then lint, type check, unit and integration
// tests and builds for every project (Nx, cached), the workspace tool tests, and the package check.
// Ends with one summary line: "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(root, 'tmp/test-results');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };
const nx = join(root, 'node_modules/nx/dist/bin/nx.js');
const totals = { passed: 0, failed: 0, skipped: 0 };

function step(title, cmd, args, options = {}) {
  console.log(`\n==> ${title}`);
  const result = spawnSync(cmd, args, {
    cwd: root,
    env,
    stdio: options.capture ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
  if (options.capture) process.stdout.write(result.stdout + result.stderr);
  return result;
}

function fail(title) {
  console.error(`\nnpm test failed at: ${title}`);
  summary();
  process.exit(1);
}

function summary() {
  const failures = [];
  if (existsSync(resultsDir)) {
    for (const file of readdirSync(resultsDir).filter((f) => f.endsWith('.json'))) {
      const r = JSON.parse(readFileSync(join(resultsDir, file), 'utf8'));
      totals.passed += r.numPassedTests;
      totals.failed += r.numFailedTests;
      totals.skipped += r.numPendingTests + r.numTodoTests;
      failures.push(...failedTests(r));
    }
  }
  // Named again at the very end: a CI log is often read from its tail, far below Jest's report.
  if (failures.length > 0) console.log(`\nFailed:\n${failures.join('\n')}`);
  console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
}

/** One line per failed test (or suite that failed to run) of a Jest --json report. */
function failedTests(report) {
  const lines = [];
  for (const suite of report.testResults ?? []) {
    const file = relative(root, suite.name);
    const failed = (suite.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failed) lines.push(`  ${file} > ${a.fullName}: ${firstLine(a.failureMessages?.[0])}`);
    if (failed.length === 0 && suite.status === 'failed')
      lines.push(`  ${file}: ${firstLine(suite.message)}`);
  }
  return lines;
}

function firstLine(text = '') {
  // Jest colours its messages.
  return (
    stripVTControlCharacters(text)
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim()
      .slice(0, 300) ?? ''
  );
}

rmSync(resultsDir, { recursive: true, force: true });
const checks = [
  [
    'formatting (prettier)',
    process.execPath,
    [join(root, 'node_modules/prettier/bin/prettier.cjs'), '--check', '--log-level=warn', '.'],
  ],
  ['generated proto code is fresh', process.execPath, ['tools/proto-generate.mjs', '--check']],
  [
    'lint, typecheck, test, build (all projects)',
    process.execPath,
    [nx, 'run-many', '-t', 'lint', 'typecheck', 'test', 'build', '--parallel=2', '--outputStyle=static'],
  ],
];
for (const [title, cmd, args] of checks) {
  if (step(title, cmd, args).status !== 0) fail(title);
}

// Named explicitly: `node --test tools/` would also pick up this file (test-*.mjs) and recurse.
const toolTests = readdirSync(join(root, 'tools'))
  .filter((f) => f.endsWith('.test.mjs'))
  .map((f) => join('tools', f));
const tools = step('workspace tool tests (node --test)', process.execPath, ['--test', ...toolTests], {
  capture: true,
});
const count = (name) => Number(new RegExp(`^# ${name} (\\d+)`, 'm').exec(tools.stdout)?.[1] ?? 0);
totals.passed += count('pass');
totals.failed += count('fail');
totals.skipped += count('skipped') + count('todo');
if (tools.status !== 0) fail('workspace tool tests');

if (
  step('packages install from tarballs (tools/verify-packages)', process.execPath, [
    'tools/verify-packages.mjs',
    '--no-build',
  ]).status !== 0
) {
  fail('verify-packages');
}
summary();
