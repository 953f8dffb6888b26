#!/usr/bin/env node
// The `crank-host` process: reads the config named on the command line, serves its workers, and
// stops them (drain, deregister, end their processes) on SIGTERM or SIGINT. Exit status: 0 after a
// clean stop, 1 when the host could not start, 2 for a bad command line or config.
import { parseArgs } from 'node:util';
import { CrankHost } from './crank-host.js';
import { HostConfigError } from './config-source.js';
import { loadHostConfig } from './host-config.js';

const USAGE = `usage: crank-host [--check] <config.yaml>

Serves the capabilities of the workers listed in the config (YAML or JSON); each worker's tasks
run in processes that read JSON lines on stdin and answer on stdout.

  --check   check the config and exit (0 when it is valid)
  --help    show this text

The controller is found as by any worker: CRANK_CONTROLLER_URL, CRANK_DATA_DIR (or CRANK_CA_FILE
and CRANK_BOOTSTRAP_TOKEN); logs are JSON lines on stdout (CRANK_LOG_LEVEL).
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    process.stderr.write(`crank-host: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [file, ...extra] = parsed.positionals;
  if (!file || extra.length > 0) {
    process.stderr.write(`crank-host: give exactly one config file\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadHostConfig(file);
  } catch (error) {
    if (!(error instanceof HostConfigError)) throw error;
    process.stderr.write(`crank-host: invalid config\n${error.message}\n`);
    return 2;
  }
  if (parsed.values.check) {
    const capabilities = config.workers.flatMap((w) => w.capabilities.map((c) => c.key));
    process.stdout.write(
      `${file}: ${config.workers.length} worker(s), ${capabilities.length} capabilities (${capabilities.join(', ')})\n`,
    );
    return 0;
  }
  const host = await CrankHost.create(config);
  // Installed before the start, so that a signal during start-up stops what has started.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void host.stop(signal));
  }
  try {
    await host.run();
  } catch (error) {
    process.stderr.write(`crank-host: could not start: ${(error as Error).message}\n`);
    return 1;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`crank-host: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
