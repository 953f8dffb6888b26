import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectClient, type CrankClient } from '@crank/controller-client';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CONTROLLER_MAIN = join(root, 'apps/controller/dist/main.js');
export const ECHO_MAIN = join(root, 'apps/worker-echo/dist/main.js');

/** A JSON log line of one of our processes. */
export type LogLine = Record<string, unknown> & { event?: string };

/** A real child process (controller or worker) whose pino lines are parsed as they come. */
export class RunningProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const raw of parts) {
        let line: LogLine;
        try {
          line = JSON.parse(raw) as LogLine;
        } catch {
          continue;
        }
        this.lines.push(line);
        for (const waiter of [...this.waiters]) {
          if (waiter.match(line)) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      if (process.env['CRANK_TEST_VERBOSE']) process.stderr.write(`[${name}] ${chunk.toString('utf8')}`);
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves with the first log line (past or future) that matches, or rejects after `timeoutMs`. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `${this.name}: no matching log line within ${timeoutMs} ms; last: ${JSON.stringify(this.lines.slice(-3))}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (l: LogLine) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      this.waiters.push(waiter);
    });
  }

  event(name: string, timeoutMs?: number): Promise<LogLine> {
    return this.waitFor((l) => l.event === name, timeoutMs);
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** A free TCP port on loopback (so a restarted controller can come back on the same one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface ClusterOptions {
  heartbeatMs?: number;
  /** Extra environment for every process of the cluster. */
  env?: NodeJS.ProcessEnv;
}

/**
 * A controller and workers as real processes, on loopback, with a fresh data dir (its own CA).
 * Every process is killed by {@link Cluster.close}.
 */
export class Cluster {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'crank-it-'));
  readonly processes: RunningProcess[] = [];
  controller!: RunningProcess;
  grpcAddress = '';
  httpUrl = '';
  private clients: CrankClient[] = [];

  private constructor(
    readonly heartbeatMs: number,
    readonly grpcPort: number,
    readonly httpPort: number,
    private readonly extraEnv: NodeJS.ProcessEnv,
  ) {}

  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const cluster = new Cluster(
      options.heartbeatMs ?? 200,
      await freePort(),
      await freePort(),
      options.env ?? {},
    );
    await cluster.startController();
    return cluster;
  }

  get env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env['PATH'],
      CRANK_DATA_DIR: this.dataDir,
      CRANK_HEARTBEAT_MS: String(this.heartbeatMs),
      CRANK_GRPC_ADDR: `127.0.0.1:${this.grpcPort}`,
      CRANK_HTTP_ADDR: `127.0.0.1:${this.httpPort}`,
      CRANK_CONTROLLER_URL: `127.0.0.1:${this.grpcPort}`,
      CRANK_LOG_LEVEL: 'info',
      ...this.extraEnv,
    };
  }

  async startController(): Promise<RunningProcess> {
    const proc = this.spawn('controller', CONTROLLER_MAIN, {});
    const started = await proc.event('controller_started');
    this.controller = proc;
    this.grpcAddress = String(started['grpc']);
    this.httpUrl = String(started['http']);
    return proc;
  }

  /** Starts an echo worker process and waits until the controller has it registered. */
  async startEcho(env: NodeJS.ProcessEnv = {}): Promise<{ proc: RunningProcess; id: string }> {
    const proc = this.spawn(`echo-${this.processes.length}`, ECHO_MAIN, { CRANK_DRAIN_MS: '10000', ...env });
    const registered = await proc.event('registered');
    return { proc, id: String(registered['workerId']) };
  }

  spawn(name: string, main: string, env: NodeJS.ProcessEnv): RunningProcess {
    const child = spawn(process.execPath, [main], {
      env: { ...this.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new RunningProcess(name, child);
    this.processes.push(proc);
    return proc;
  }

  async client(name = 'test-caller'): Promise<CrankClient> {
    const client = await connectClient({
      address: this.grpcAddress,
      dataDir: this.dataDir,
      home: join(this.dataDir, 'caller-home'),
      name,
    });
    this.clients.push(client);
    return client;
  }

  async http(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: unknown }> {
    const res = await fetch(`${this.httpUrl}${path}`, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // plain text (metrics)
    }
    return { status: res.status, headers: res.headers, body };
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.close();
    for (const proc of this.processes) proc.kill('SIGKILL');
    await Promise.all(this.processes.map((p) => p.exited));
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; resolves with the time it took. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  stepMs = 25,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
