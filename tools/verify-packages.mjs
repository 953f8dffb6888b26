#!/usr/bin/env node
// Packs each published package with `npm pack` (the libs and the controller), then walks a worker
// author's first hour with the tarballs in scratch projects outside the repo (tools/author-path.mjs:
// the README's plain worker without NestJS, the controller's bin, the CLI, the testkit's
// conformance run and its README's node:test and jest files), and finally imports every entry point
// from plain Node as ESM (the packages are ESM-only, like NestJS 12). Proves the published shape:
// exports maps, bins, built .d.ts, dependencies declared, and the @crank/* packages resolving each
// other from tarballs rather than from the workspace.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAuthorPath } from './author-path.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The published packages. */
const PACKAGES = [
  'libs/proto',
  'libs/capabilities',
  'libs/controller-client',
  'libs/worker-runtime',
  'libs/testkit',
  'apps/controller',
];
/** Entry points imported from the scratch project, each with exports that must be there. */
const ENTRIES = [
  {
    name: '@crank/proto',
    exports: ['ControllerClient', 'WorkerService', 'InvokeRequest', 'errorInfoToMetadata'],
  },
  {
    name: '@crank/capabilities',
    exports: ['defineCapability', 'builtinCatalog', 'CrankError', 'ERROR_CODES'],
  },
  { name: '@crank/controller-client', exports: ['CrankClient', 'connectClient', 'enroll'] },
  { name: '@crank/worker-runtime', exports: ['startWorker', 'serve', 'CrankWorker', 'CapabilityError'] },
  { name: '@crank/worker-runtime/nest', exports: ['CrankWorkerModule', 'CapabilityHandler'] },
  {
    name: '@crank/testkit',
    exports: ['runConformance', 'assertConformance', 'startTestCluster', 'callHandler', 'mockContext'],
  },
  { name: '@crank/controller', exports: ['createControllerApp'] },
];
/** Command-line entry points, each with a file the tarball must ship. */
const BINS = {
  '@crank/controller-client': ['crank'],
  '@crank/controller': ['crank-controller'],
  '@crank/worker-runtime': ['crank-host'],
  '@crank/testkit': ['crank-conformance'],
};
/** Optional peers a NestJS worker brings itself; installed so the `/nest` entry can load. */
const NEST_PEERS = [
  '@nestjs/common@^12.5.0',
  '@nestjs/core@^12.5.0',
  'reflect-metadata@^0.2.2',
  'rxjs@^7.8.2',
];

const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

if (!process.argv.includes('--no-build')) {
  run(
    process.execPath,
    [
      join(root, 'node_modules/nx/dist/bin/nx.js'),
      'run-many',
      '-t',
      'build',
      '-p',
      ...PACKAGES.map((dir) => dir.split('/')[1]),
    ],
    root,
  );
}

const scratch = mkdtempSync(join(tmpdir(), 'crank-verify-'));
try {
  const tarballs = [];
  for (const dir of PACKAGES) {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    if (manifest.private) throw new Error(`${manifest.name} is private and cannot be published`);
    for (const field of ['exports', 'types', 'files', 'version', 'license']) {
      if (!manifest[field]) throw new Error(`${manifest.name}: package.json has no "${field}"`);
    }
    for (const [name, range] of Object.entries(manifest.dependencies ?? {})) {
      if (/^(file:|link:|workspace:|\.)/.test(range))
        throw new Error(`${manifest.name}: dependency ${name} points at "${range}"`);
    }
    const [packed] = JSON.parse(
      run('npm', ['pack', '--json', '--pack-destination', scratch], join(root, dir)),
    );
    const files = packed.files.map((f) => f.path);
    if (!files.includes('dist/index.js') || !files.includes('dist/index.d.ts')) {
      throw new Error(`${manifest.name}: tarball lacks dist/index.js or dist/index.d.ts`);
    }
    const leaked = files.filter((f) => f.endsWith('.spec.js') || f.startsWith('src/'));
    if (leaked.length > 0) throw new Error(`${manifest.name}: tarball ships ${leaked.join(', ')}`);
    for (const bin of BINS[manifest.name] ?? []) {
      const target = manifest.bin?.[bin]?.replace(/^\.\//, '');
      if (!target || !files.includes(target))
        throw new Error(`${manifest.name}: bin "${bin}" missing from package.json or the tarball`);
      if (!readFileSync(join(root, dir, target), 'utf8').startsWith('#!/usr/bin/env node\n'))
        throw new Error(`${manifest.name}: bin "${bin}" (${target}) has no "#!/usr/bin/env node" line`);
    }
    tarballs.push({ name: manifest.name, file: join(scratch, packed.filename), size: packed.size });
  }

  const project = await checkAuthorPath({
    root,
    scratch: join(scratch, 'author-path'),
    tarballs: new Map(tarballs.map((t) => [t.name, t.file])),
    extraInstall: NEST_PEERS,
    log: (line) => console.log(line),
  });

  const check = ENTRIES.map(
    (t) => `{
  const m = await import(${JSON.stringify(t.name)});
  const missing = ${JSON.stringify(t.exports)}.filter((name) => !(name in m));
  if (missing.length) throw new Error(${JSON.stringify(t.name)} + ' lacks exports: ' + missing.join(', '));
  console.log('  ' + ${JSON.stringify(t.name)} + ': ' + Object.keys(m).length + ' exports');
}`,
  ).join('\n');
  writeFileSync(join(project, 'check.mjs'), check);
  const output = run(process.execPath, ['check.mjs'], project);
  // Nested copies would mean a tarball's @crank dependency was resolved from somewhere else.
  for (const t of tarballs) {
    if (!existsSync(join(project, 'node_modules', t.name, 'package.json')))
      throw new Error(`${t.name} not installed`);
  }
  const nested = run('npm', ['ls', '--all', '--parseable'], project)
    .split('\n')
    .filter((line) => /node_modules\/@crank\/[^/]+\/node_modules\/@crank\//.test(line));
  if (nested.length > 0) throw new Error(`nested @crank copies: ${nested.join(', ')}`);
  console.log(
    `verify-packages: ${tarballs.length} packages packed, the author path walked outside the repo, ${ENTRIES.length} entry points imported as ESM:`,
  );
  process.stdout.write(output);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
