// The README's quick start as a test: `npm start` (tools/start.mjs) brings up the controller and
// the workers, `crank invoke` answers with the worker's id, and Ctrl-C stops everything cleanly.
// Runs on free ports with a scratch data dir so that it never meets a developer's own `npm start`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

test('npm start serves debug.echo and crank invoke reaches it', { timeout: 180_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'crank-quickstart-'));
  const grpc = `127.0.0.1:${await freePort()}`;
  const env = {
    ...process.env,
    CRANK_DATA_DIR: dataDir,
    CRANK_GRPC_ADDR: grpc,
    CRANK_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
    CRANK_CONTROLLER_URL: grpc,
    // The caller's own keys go to the scratch dir, not the developer's ~/.config/crank.
    CRANK_HOME: join(dataDir, 'caller-home'),
  };
  const start = spawn(process.execPath, [join(root, 'tools/start.mjs')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  start.stdout.on('data', (chunk) => (output += chunk));
  start.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => start.once('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 150_000;
    while (!output.includes('"event":"registered"')) {
      assert.ok(Date.now() < deadline, `no worker registered; output:\n${output.slice(-2000)}`);
      assert.equal(start.exitCode, null, `npm start exited early:\n${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        join(root, 'libs/controller-client/bin/crank.js'),
        'invoke',
        'debug.echo',
        '--json',
        '{"message":"hi"}',
      ],
      { cwd: root, env },
    );
    const answer = JSON.parse(stdout);
    assert.equal(answer.output.message, 'hi');
    assert.match(answer.workerId, /^echo-[0-9a-f]{6}$/);
    assert.equal(answer.output.workerId, answer.workerId);
  } finally {
    start.kill('SIGINT');
    const code = await exited;
    rmSync(dataDir, { recursive: true, force: true });
    assert.equal(code, 0, `npm start did not stop cleanly:\n${output.slice(-2000)}`);
  }
  assert.match(output, /"event":"worker_stopped"/);
  assert.match(output, /"event":"controller_stopped"/);
});
