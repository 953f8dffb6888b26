#!/usr/bin/env node
// Packs each publishable lib with `npm pack`, installs the tarballs into a scratch project outside
// the repo, and imports every package from plain Node as ESM (the packages are ESM-only, like
// NestJS 12). Proves the published shape: exports map, built .d.ts, dependencies declared, and the
// @crank/* packages resolving each other from tarballs rather than from the workspace.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Each package and a few exports that must be there once it is installed. */
const PACKAGES = [
  {
    dir: 'libs/proto',
    exports: ['ControllerClient', 'WorkerService', 'InvokeRequest', 'errorInfoToMetadata'],
  },
  { dir: 'libs/capabilities', exports: ['defineCapability', 'builtinCatalog', 'CrankError', 'ERROR_CODES'] },
  { dir: 'libs/controller-client', exports: [] },
  { dir: 'libs/worker-runtime', exports: [] },
  { dir: 'libs/testkit', exports: [] },
];

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

if (!process.argv.includes('--no-build')) {
  run(
    process.execPath,
    [
      join(root, 'node_modules/nx/bin/nx.js'),
      'run-many',
      '-t',
      'build',
      '-p',
      ...PACKAGES.map((p) => p.dir.split('/')[1]),
    ],
    root,
  );
}

const scratch = mkdtempSync(join(tmpdir(), 'crank-verify-'));
try {
  const tarballs = [];
  for (const pkg of PACKAGES) {
    const manifest = JSON.parse(readFileSync(join(root, pkg.dir, 'package.json'), 'utf8'));
    if (manifest.private) throw new Error(`${manifest.name} is private and cannot be published`);
    for (const field of ['exports', 'types', 'files', 'version', 'license']) {
      if (!manifest[field]) throw new Error(`${manifest.name}: package.json has no "${field}"`);
    }
    for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
      if (/^(file:|link:|workspace:|\.)/.test(range))
        throw new Error(`${manifest.name}: dependency ${name} points at "${range}"`);
    }
    const [packed] = JSON.parse(
      run('npm', ['pack', '--json', '--pack-destination', scratch], join(root, pkg.dir)),
    );
    const files = packed.files.map((f) => f.path);
    if (!files.includes('dist/index.js') || !files.includes('dist/index.d.ts')) {
      throw new Error(`${manifest.name}: tarball lacks dist/index.js or dist/index.d.ts`);
    }
    const leaked = files.filter((f) => f.endsWith('.spec.js') || f.startsWith('src/'));
    if (leaked.length > 0) throw new Error(`${manifest.name}: tarball ships ${leaked.join(', ')}`);
    tarballs.push({ ...pkg, name: manifest.name, file: join(scratch, packed.filename), size: packed.size });
  }

  writeFileSync(
    join(scratch, 'package.json'),
    JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
  );
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      ...tarballs.map((t) => t.file),
    ],
    scratch,
  );

  const check = tarballs
    .map(
      (t) => `{
  const m = await import(${JSON.stringify(t.name)});
  const missing = ${JSON.stringify(t.exports)}.filter((name) => !(name in m));
  if (missing.length) throw new Error(${JSON.stringify(t.name)} + ' lacks exports: ' + missing.join(', '));
  console.log('  ' + ${JSON.stringify(t.name)} + ': ' + Object.keys(m).length + ' exports');
}`,
    )
    .join('\n');
  writeFileSync(join(scratch, 'check.mjs'), check);
  const output = run(process.execPath, ['check.mjs'], scratch);
  // Nested copies would mean a tarball's @crank dependency was resolved from somewhere else.
  for (const t of tarballs) {
    if (!existsSync(join(scratch, 'node_modules', t.name, 'package.json')))
      throw new Error(`${t.name} not installed`);
  }
  const nested = run('npm', ['ls', '--all', '--parseable'], scratch)
    .split('\n')
    .filter((line) => /node_modules\/@crank\/[^/]+\/node_modules\/@crank\//.test(line));
  if (nested.length > 0) throw new Error(`nested @crank copies: ${nested.join(', ')}`);
  console.log(
    `verify-packages: ${tarballs.length} packages packed, installed outside the repo and imported as ESM:`,
  );
  process.stdout.write(output);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
