#!/usr/bin/env node
// `npm start`: builds what is not built yet, then runs the controller and every worker app on this
// machine with embedded defaults (data dir ./.crank, controller on 127.0.0.1:8443 and :8000).
// Each process's JSON log lines are prefixed with its name. Ctrl-C stops the workers first (they
// drain and deregister), then the controller.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };

const workers = readdirSync(join(root, 'apps'))
  .filter((name) => name.startsWith('worker-') && existsSync(join(root, 'apps', name, 'src/main.ts')))
  .sort();
const apps = ['controller', ...workers];

const build = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules/nx/dist/bin/nx.js'),
    'run-many',
    '-t',
    'build',
    '-p',
    ...apps,
    '--outputStyle=static',
  ],
  { cwd: root, env, stdio: 'inherit' },
);
if (build.status !== 0) process.exit(build.status ?? 1);

const children = new Map();
function run(name) {
  const child = spawn(process.execPath, ['--enable-source-maps', join(root, 'apps', name, 'dist/main.js')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `${name.padEnd(28)}| `;
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(prefix + line + '\n');
    });
  }
  child.on('exit', (code, signal) => {
    children.delete(name);
    if (stopping) return;
    // A worker drained from the dashboard ends with 0 by design: the rest keep running.
    if (code === 0 && name !== 'controller') {
      process.stdout.write(`${prefix}exited (0, drained); the others keep running\n`);
      return;
    }
    process.stdout.write(`${prefix}exited (${signal ?? code}); stopping the rest\n`);
    void stop(1);
  });
  children.set(name, child);
  return child;
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  const waitFor = (names) =>
    Promise.all(
      names
        .map((n) => children.get(n))
        .filter(Boolean)
        .map(
          (child) =>
            new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve))),
        ),
    );
  for (const name of workers) children.get(name)?.kill('SIGTERM');
  await waitFor(workers);
  children.get('controller')?.kill('SIGTERM');
  await waitFor(['controller']);
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

run('controller');
// Workers wait for the controller's CA on their own (enrollment retries with backoff).
for (const name of workers) run(name);
