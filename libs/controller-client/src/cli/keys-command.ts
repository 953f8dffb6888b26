import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { API_KEY_SCOPES, ApiKeyStore } from '@crank/proto';

/** Where the command writes; the process's streams unless a test passes its own. */
export interface KeysCommandOutput {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export const KEYS_USAGE = `Usage: crank keys <create|list|revoke> [options]

API keys of the controller's HTTP API (CRANK_HTTP_AUTH=keys). They live in <data-dir>/api-keys.json
on the controller's host, as hashes; run these there. The controller sees changes within a second.

  keys create --name <name> --scopes <list>   make a key and print it (shown this once only)
      scopes: ${API_KEY_SCOPES.join(', ')} (comma-separated; admin grants every scope)
  keys list                                   list keys: id, name, scopes, created, revoked
  keys revoke <id>                            revoke a key at once

  --data-dir <dir>    the controller's data dir (CRANK_DATA_DIR, default ./.crank)
`;

/**
 * `crank keys ...`: creates, lists and revokes the controller's API keys by editing its key file
 * directly, so it works without a running controller and needs no credential but file access.
 * Prints JSON on stdout. Resolves the exit code: 0 done, 1 failed, 2 bad usage.
 */
export async function runKeysCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  output: KeysCommandOutput = process,
): Promise<number> {
  const usage = (problem: string): number => {
    output.stderr.write(`crank keys: ${problem}\n\n${KEYS_USAGE}`);
    return 2;
  };
  let parsed: ReturnType<typeof parseKeysArgs>;
  try {
    parsed = parseKeysArgs(args);
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  if (values.help) {
    output.stdout.write(KEYS_USAGE);
    return 0;
  }
  const print = (value: unknown): void => void output.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const dataDir = resolve(values['data-dir'] ?? env['CRANK_DATA_DIR'] ?? '.crank');

  try {
    switch (action) {
      case 'create': {
        if (values.name === undefined) return usage('create: --name is required');
        if (values.scopes === undefined) return usage('create: --scopes is required, e.g. --scopes invoke');
        const store = await ApiKeyStore.open(dataDir);
        const { key, info } = await store.create({ name: values.name, scopes: values.scopes.split(',') });
        print({ ...info, key });
        output.stderr.write(
          `crank keys: created key ${info.id} in ${store.file}; the key above is shown only this once\n`,
        );
        return 0;
      }
      case 'list':
        print((await ApiKeyStore.open(dataDir)).list());
        return 0;
      case 'revoke': {
        const id = rest[0];
        if (id === undefined) return usage('revoke: name the key id (see crank keys list)');
        print(await (await ApiKeyStore.open(dataDir)).revoke(id));
        return 0;
      }
      case undefined:
        return usage('name an action');
      default:
        return usage(`unknown action "${action}"`);
    }
  } catch (error) {
    output.stderr.write(`crank keys: ${(error as Error).message}\n`);
    return 1;
  }
}

function parseKeysArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      'data-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
