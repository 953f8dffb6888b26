// The worker author's first hour, as a check on the packed tarballs (run by verify-packages.mjs).
// Only documented steps, in a scratch project outside the repo:
//   1. README.md "Writing a worker": a package.json with "type": "module", its `npm install`, its
//      worker file copied from the README; no NestJS may come with it. @crank/testkit (without
//      @crank/controller) is installed too, for step 3.
//   2. A controller from the installed @crank/controller package, started with its bin on free
//      ports, in a directory of its own; the worker runs against it, the README's `crank invoke`
//      answers, and the testkit's conformance run passes against the running worker. Both
//      processes must exit on their own after SIGTERM.
//   3. libs/testkit/README.md: its `npm install` lines (now NestJS comes, with @crank/controller)
//      and its files, then its node:test and jest commands, which embed a controller in-process.
// Snippets and commands are read from the READMEs, so the docs and this check cannot drift apart.
// Packages named in the READMEs are installed from the tarballs; any other from the npm registry
// (through the local cache), at the version the workspace pins when it has one.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Longest wait for one step (an install, a start, a test run); generous for 2 busy cores. */
const STEP_TIMEOUT_MS = 120_000;

/**
 * @param {object} options
 * @param {string} options.root the workspace
 * @param {string} options.scratch an empty directory outside the workspace
 * @param {Map<string, string>} options.tarballs package name -> packed tarball
 * @param {string[]} options.extraInstall installed with step 3 (e.g. NestJS peers for /nest)
 * @param {(line: string) => void} options.log
 * @returns {Promise<string>} the author project's directory, every package installed
 */
export async function checkAuthorPath({ root, scratch, tarballs, extraInstall, log }) {
  const pins = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies ?? {};
  const spec = (name) => tarballs.get(name) ?? (pins[name] ? `${name}@${pins[name]}` : name);
  /** A package's tarball and those of the @crank packages it needs, as the registry would serve them. */
  const withCrankDeps = (name, seen = new Set()) => {
    if (seen.has(name) || !tarballs.has(name)) return seen;
    seen.add(name);
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOzf', tarballs.get(name), 'package/package.json'], { encoding: 'utf8' }),
    );
    for (const dep of Object.keys(manifest.dependencies ?? {})) withCrankDeps(dep, seen);
    return seen;
  };
  const install = (dir, names) => {
    const specs = new Set();
    for (const name of names) {
      if (tarballs.has(name)) for (const n of withCrankDeps(name)) specs.add(spec(n));
      else specs.add(spec(name));
    }
    npm(dir, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs]);
  };

  const readme = section(readFileSync(join(root, 'README.md'), 'utf8'), 'Writing a worker', 'README.md');
  const author = project(join(scratch, 'my-worker'));
  const workerFile = writeFiles(author, readme, 'README.md "Writing a worker"')[0];
  install(author, [...installedBy(readme), '@crank/testkit']);
  for (const banned of ['@nestjs/core', '@nestjs/common', 'fastify']) {
    if (existsSync(join(author, 'node_modules', banned)))
      throw new Error(`the plain worker project got ${banned} installed; it must not need NestJS`);
  }
  log(`  plain worker project: ${installedBy(readme).join(', ')} (+ @crank/testkit), no NestJS`);

  const host = project(join(scratch, 'controller-host'));
  install(host, ['@crank/controller']);
  const dataDir = join(scratch, 'crank-data');
  const processes = [];
  try {
    const controller = start(join(host, 'node_modules/.bin/crank-controller'), [], host, {
      CRANK_DATA_DIR: dataDir,
      CRANK_GRPC_ADDR: '127.0.0.1:0',
      CRANK_HTTP_ADDR: '127.0.0.1:0',
      CRANK_HEARTBEAT_MS: '500',
    });
    processes.push(controller);
    const started = await controller.waitFor((l) => l.event === 'controller_started');
    const env = {
      CRANK_CONTROLLER_URL: started.grpc,
      CRANK_DATA_DIR: dataDir,
      CRANK_HOME: join(scratch, 'home'),
    };
    log(`  crank-controller (installed bin) serving on ${started.grpc}`);

    const worker = start(process.execPath, [workerFile], author, env);
    processes.push(worker);
    const registered = await worker.waitFor((l) => l.event === 'registered');
    const serving = await worker.waitFor((l) => l.event === 'worker_started');
    log(`  ${workerFile} (from the README) registered as ${registered.workerId}`);

    const invoke = commandsOf(readme, 'npx crank ')[0];
    if (!invoke) throw new Error('README.md "Writing a worker": no `npx crank ...` command');
    const answer = await runToEnd(join(author, 'node_modules/.bin/crank'), invoke.slice(2), author, env);
    if (!answer.stdout.includes(registered.workerId))
      throw new Error(`\`${invoke.join(' ')}\` did not answer from the worker:\n${answer.stdout}`);
    log(`  ${invoke.join(' ')}: answered by ${registered.workerId}`);

    writeFileSync(join(author, 'conformance.mjs'), CONFORMANCE);
    const conformance = await runToEnd(process.execPath, ['conformance.mjs'], author, {
      ...env,
      WORKER_ID: registered.workerId,
      WORKER_HTTP: serving.http,
    });
    log(`  @crank/testkit conformance against the running worker: ${conformance.stdout.trim()}`);

    for (const proc of [worker, controller]) {
      proc.child.kill('SIGTERM');
      if (!(await proc.exitedWithin(20_000)))
        throw new Error(`${proc.name} did not exit after SIGTERM; something keeps it alive`);
      if (proc.child.exitCode !== 0) throw new Error(`${proc.name} exited with ${proc.child.exitCode}`);
    }
    log('  worker and controller exited on their own after SIGTERM');
  } finally {
    for (const proc of processes) proc.child.kill('SIGKILL');
  }

  const kit = readFileSync(join(root, 'libs/testkit/README.md'), 'utf8');
  const kitSections = ['Install', 'The capability under test', 'node:test', 'jest'].map((h) =>
    section(kit, h, 'libs/testkit/README.md'),
  );
  install(author, [...kitSections.flatMap(installedBy), ...extraInstall]);
  for (const text of kitSections) writeFiles(author, text, 'libs/testkit/README.md');
  for (const heading of ['node:test', 'jest']) {
    const text = section(kit, heading, 'libs/testkit/README.md');
    const command = commandsOf(text, 'node ')[0];
    if (!command) throw new Error(`libs/testkit/README.md "${heading}": no \`node ...\` command`);
    const [, ...args] = command;
    const result = await runToEnd(process.execPath, args, author, {});
    log(`  libs/testkit/README.md ${heading} (${command.join(' ')}): ${summaryOf(result)}`);
  }
  return author;
}

/** Checks a worker that runs on its own through @crank/testkit, as a CI job of its author would. */
const CONFORMANCE = `import { defineCapability } from '@crank/capabilities';
import { connectClient } from '@crank/controller-client';
import { SCHEMA_CASE, assertConformance, runConformance } from '@crank/testkit';

const client = await connectClient({ name: 'author-path' });
try {
  const offered = (await client.capabilities()).find((c) => c.id === 'reverse.text');
  const { id, version, inputSchema, outputSchema } = offered;
  const capability = defineCapability({ id, version, inputSchema, outputSchema, errorCodes: ['INVALID_INPUT'] });
  const results = await runConformance({
    client,
    capability,
    workerId: process.env.WORKER_ID,
    workerHttpUrl: process.env.WORKER_HTTP,
    cases: [
      {
        name: 'reverses',
        input: { text: 'abc' },
        check: (out) => {
          if (out.text !== 'cba') throw new Error('expected cba, got ' + JSON.stringify(out));
        },
      },
      { name: 'refuses empty text', input: { text: '' }, expectError: 'INVALID_INPUT' },
    ],
  });
  assertConformance(results);
  if (results.find((r) => r.name === SCHEMA_CASE)?.status !== 'passed') throw new Error('schema case not run');
  console.log(results.map((r) => r.name + ': ' + r.status).join(', '));
} finally {
  client.close();
}
`;

function project(dir) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'my-worker', private: true, type: 'module' }),
  );
  return dir;
}

function npm(cwd, args) {
  execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: STEP_TIMEOUT_MS,
  });
}

/** The text under `## heading` up to the next `## ` heading. */
function section(markdown, heading, file) {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`${file}: no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 4);
  return markdown.slice(start, end === -1 ? undefined : end);
}

/** Fenced code blocks: `{ lang, body, file }`, `file` when the line before names one ("`x.mjs`:"). */
function blocks(text) {
  const found = [];
  const fence = /```(\w*)\n([\s\S]*?)```/g;
  for (let m; (m = fence.exec(text));) {
    const before = text.slice(0, m.index).trimEnd().split('\n').pop() ?? '';
    const file = /`([\w.-]+\.m?js)`:$/.exec(before)?.[1];
    found.push({ lang: m[1], body: m[2], file });
  }
  return found;
}

/** Writes each block that names its file; returns the file names. */
function writeFiles(dir, text, where) {
  const files = blocks(text).filter((b) => b.file && b.lang === 'js');
  for (const b of files) writeFileSync(join(dir, b.file), b.body);
  if (files.length === 0 && where.startsWith('README.md'))
    throw new Error(`${where}: no \`file.mjs\`: js block`);
  return files.map((b) => b.file);
}

/** The shell commands of `sh` blocks that start with `prefix`, split into words ('...' kept whole). */
function commandsOf(text, prefix) {
  return blocks(text)
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => b.body.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith(prefix))
    .map((line) => [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]));
}

/** Package names of the `npm install` commands in `text`. */
function installedBy(text) {
  return commandsOf(text, 'npm install ').flatMap((words) =>
    words.slice(2).filter((w) => !w.startsWith('-')),
  );
}

/** A child process whose JSON log lines (pino) are parsed as they come. */
function start(command, args, cwd, env) {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH, CRANK_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const name = args[0] ?? command.split('/').pop();
  const lines = [];
  let output = '';
  let waiters = [];
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => (output += chunk));
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const raw of parts) {
      try {
        lines.push(JSON.parse(raw));
      } catch {
        continue;
      }
      waiters = waiters.filter((w) => !w());
    }
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    name,
    child,
    waitFor(match, timeoutMs = STEP_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`${name}: no such log line within ${timeoutMs} ms:\n${output.slice(-3000)}`)),
          timeoutMs,
        );
        const check = () => {
          const line = lines.find(match);
          if (line) {
            clearTimeout(timer);
            resolve(line);
          }
          return line !== undefined;
        };
        exited.then(() => {
          if (!check()) {
            clearTimeout(timer);
            reject(
              new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${output.slice(-3000)}`),
            );
          }
        });
        if (!check()) waiters.push(check);
      });
    },
    exitedWithin(ms) {
      let timer;
      return Promise.race([
        exited.then(() => true),
        new Promise((resolve) => (timer = setTimeout(() => resolve(false), ms))),
      ]).finally(() => clearTimeout(timer));
    },
  };
}

/** Runs a command to its end; rejects, with its output, when it fails or outlives the step timeout. */
function runToEnd(command, args, cwd, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { PATH: process.env.PATH, HOME: join(cwd, '.home'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const what = `${[command, ...args].join(' ')} in ${cwd}`;
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(
            `${what} ${signal === 'SIGKILL' ? `did not end within ${STEP_TIMEOUT_MS} ms` : `failed (${code ?? signal})`}:\n${(stdout + stderr).slice(-4000)}`,
          ),
        );
    });
  });
}

/** "N passed" from node:test's or jest's summary. */
function summaryOf({ stdout, stderr }) {
  const text = stdout + stderr;
  const node = /^# pass (\d+)/m.exec(text);
  const jest = /^Tests:\s+(.+)$/m.exec(text);
  return node ? `${node[1]} passed` : jest ? jest[1].trim() : 'passed';
}
