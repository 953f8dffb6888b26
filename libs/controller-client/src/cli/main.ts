#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { CrankError } from '@crank/capabilities';
import { callerIdentity, connectClient } from '../connect.js';
import { controllerLocation } from '../identity.js';

const USAGE = `Usage: crank <command> [options]

Commands:
  capabilities                 list capabilities with their live worker counts
  workers                      list registered workers
  invoke <capability>          call a capability and print its output
      --json '<json>'          input as JSON text
      --file <path>            input from a file (JSON, or raw bytes with --content-type)
      --content-type <type>    content type of a raw --file input
      --version <range>        semver range of the capability (e.g. ^1.0.0)
      --timeout <ms>           deadline of the call
  enroll                       get (or renew) this caller's certificate

Options for every command:
  --controller <host:port>     controller gRPC address (CRANK_CONTROLLER_URL, default 127.0.0.1:8443)
  --data-dir <dir>             controller data dir with ca.crt and bootstrap-token (CRANK_DATA_DIR, default ./.crank)
  --name <name>                caller name in the certificate (default cli-$USER)
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'string' },
      file: { type: 'string' },
      'content-type': { type: 'string' },
      version: { type: 'string' },
      timeout: { type: 'string' },
      controller: { type: 'string' },
      'data-dir': { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  const location = {
    ...(values.controller ? { address: values.controller } : {}),
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
  };
  const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

  if (command === 'enroll') {
    const name = values.name ?? `cli-${(process.env['USER'] ?? 'user').toLowerCase()}`;
    const identity = await callerIdentity(controllerLocation(location), name, true);
    print({ identity: identity.identity, notAfter: identity.notAfter.toISOString() });
    return 0;
  }

  const client = await connectClient({ ...location, ...(values.name ? { name: values.name } : {}) });
  try {
    switch (command) {
      case 'capabilities':
        print(await client.capabilities());
        return 0;
      case 'workers':
        print(await client.workers());
        return 0;
      case 'invoke': {
        const capability = rest[0];
        if (!capability)
          throw new CrankError('INVALID_INPUT', 'invoke: name the capability, e.g. crank invoke debug.echo');
        let input: unknown = {};
        if (values.json !== undefined) {
          try {
            input = JSON.parse(values.json) as unknown;
          } catch (error) {
            throw new CrankError('INVALID_INPUT', `--json: not valid JSON (${(error as Error).message})`);
          }
        } else if (values.file !== undefined) {
          const bytes = await readFile(values.file);
          input = values['content-type'] ? bytes : (JSON.parse(bytes.toString('utf8')) as unknown);
        }
        const result = await client.invoke(capability, input, {
          ...(values.version ? { version: values.version } : {}),
          ...(values.timeout ? { timeoutMs: Number(values.timeout) } : {}),
          ...(values['content-type'] ? { contentType: values['content-type'] } : {}),
        });
        if (Buffer.isBuffer(result.output)) process.stdout.write(result.output);
        else print({ workerId: result.workerId, version: result.version, output: result.output });
        return 0;
      }
      default:
        process.stderr.write(`crank: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } finally {
    client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof CrankError) {
      process.stderr.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
    } else {
      process.stderr.write(`crank: ${(error as Error).message}\n`);
    }
    process.exitCode = 1;
  },
);
