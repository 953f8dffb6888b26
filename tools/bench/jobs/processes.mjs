// The jobs benchmark's child processes: free ports, start an app and wait for its ready line,
// CPU time from /proc, and an ordered stop.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node [...nodeArgs] main` with `env`, adds it to `apps` at once (so that a start that
 * fails is still stopped) and resolves with `{ child, pid }` once it logs `readyEvent`.
 */
export function startApp(apps, main, env, readyEvent, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, main], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const app = { child, pid: child.pid };
  apps.push(app);
  return new Promise((resolve, reject) => {
    let tail = [];
    const timer = setTimeout(
      () =>
        reject(
          new Error(`${main}: no "${readyEvent}" within ${READY_TIMEOUT_MS} ms; last: ${tail.join(' | ')}`),
        ),
      READY_TIMEOUT_MS,
    );
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        tail = [...tail.slice(-4), line.slice(0, 300)];
        if (!line.includes(readyEvent)) continue;
        try {
          if (JSON.parse(line).event !== readyEvent) continue;
        } catch {
          continue; // not JSON
        }
        clearTimeout(timer);
        resolve(app);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`${main} exited with ${signal ?? code} before "${readyEvent}"; last: ${tail.join(' | ')}`),
      );
    });
  });
}

/**
 * Stops `apps` in reverse start order: SIGTERM (the apps drain and exit, and write a CPU profile
 * when asked to), SIGKILL after STOP_TIMEOUT_MS.
 */
export async function stopApps(apps) {
  for (const { child } of [...apps].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN when unknown. */
export function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks of 1/100 s
  } catch {
    return Number.NaN;
  }
}

/**
 * A controller and one worker as real processes on free loopback ports with a scratch data dir,
 * and a `CrankClient` connected as `bench`: what most benchmarks start. `close()` stops the
 * processes (worker first), closes the client and removes the scratch dir.
 *   name: names the scratch dir; workerMain: the worker's built main.js; workerReady: the log
 *   event that says it can take calls (default `registered`); workerEnv: its extra environment.
 */
export async function startBenchCluster({ name, workerMain, workerReady = 'registered', workerEnv = {} }) {
  const { CrankClient, callerIdentity, controllerLocation } = await import('@crank/controller-client');
  const scratch = mkdtempSync(join(tmpdir(), `crank-bench-${name}-`));
  const dataDir = join(scratch, 'data');
  mkdirSync(dataDir);
  const grpcAddress = `127.0.0.1:${await freePort()}`;
  const httpPort = await freePort();
  const env = {
    PATH: process.env.PATH,
    CRANK_DATA_DIR: dataDir,
    CRANK_GRPC_ADDR: grpcAddress,
    CRANK_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    CRANK_CONTROLLER_URL: grpcAddress,
    CRANK_LOG_LEVEL: 'info',
  };
  const apps = [];
  const cluster = {
    scratch,
    httpPort,
    controller: undefined,
    worker: undefined,
    client: undefined,
    async close() {
      cluster.client?.close();
      await stopApps(apps);
      rmSync(scratch, { recursive: true, force: true });
    },
  };
  try {
    const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
    cluster.controller = await startApp(
      apps,
      join(root, 'apps/controller/dist/main.js'),
      env,
      'controller_started',
    );
    cluster.worker = await startApp(apps, workerMain, { ...env, ...workerEnv }, workerReady);
    const location = controllerLocation({ address: grpcAddress, dataDir });
    cluster.client = CrankClient.create(
      location.address,
      await callerIdentity(location, 'bench', { home: join(scratch, 'home') }),
    );
    return cluster;
  } catch (error) {
    await cluster.close();
    throw error;
  }
}
