import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiKeyStore } from '@crank/proto';
import { runKeysCommand } from './keys-command.js';

/** Runs the command with captured output. */
async function crankKeys(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runKeysCommand(args, env, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

describe('crank keys', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'crank-keys-cli-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates a key, prints it once with its id, and the controller store accepts it', async () => {
    const created = await crankKeys([
      'create',
      '--name',
      'ci',
      '--scopes',
      'invoke,jobs',
      '--data-dir',
      dataDir,
    ]);
    expect(created.code).toBe(0);
    const printed = JSON.parse(created.stdout) as { id: string; key: string; scopes: string[] };
    expect(printed).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{12}$/),
      name: 'ci',
      scopes: ['invoke', 'jobs'],
      createdAt: expect.any(String),
      key: expect.stringMatching(new RegExp(`^crk_${printed.id}_`)),
    });
    expect(created.stderr).toContain('shown only this once');

    const file = join(dataDir, 'api-keys.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain(printed.key.slice(`crk_${printed.id}_`.length));
    expect((await ApiKeyStore.open(dataDir)).verify(printed.key)).toMatchObject({ ok: true });
  });

  it('lists keys without secrets, and revokes one by id', async () => {
    const env = { CRANK_DATA_DIR: dataDir };
    const { key, id } = JSON.parse(
      (await crankKeys(['create', '--name', 'ops', '--scopes', 'admin'], env)).stdout,
    ) as { key: string; id: string };

    const listed = await crankKeys(['list'], env);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      { id, name: 'ops', scopes: ['admin'], createdAt: expect.any(String) },
    ]);
    expect(listed.stdout).not.toContain(key.slice(-20));

    const revoked = await crankKeys(['revoke', id], env);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ id, revokedAt: expect.any(String) });
    expect(JSON.parse((await crankKeys(['list'], env)).stdout)).toEqual([
      expect.objectContaining({ id, revokedAt: expect.any(String) }),
    ]);
    expect((await ApiKeyStore.open(dataDir)).verify(key)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('answers bad usage with exit code 2 and the usage text', async () => {
    for (const args of [
      [],
      ['rotate'],
      ['create', '--scopes', 'invoke'],
      ['create', '--name', 'x'],
      ['revoke'],
      ['list', '--bogus'],
    ]) {
      const run = await crankKeys([...args, '--data-dir', dataDir]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('Usage: crank keys');
    }
  });

  it('fails with exit code 1 and the rule broken for a bad scope or an unknown id', async () => {
    const badScope = await crankKeys([
      'create',
      '--name',
      'x',
      '--scopes',
      'invoke,write',
      '--data-dir',
      dataDir,
    ]);
    expect(badScope).toEqual({
      code: 1,
      stdout: '',
      stderr: 'crank keys: scopes: "write" is not a scope (one of invoke, jobs, admin)\n',
    });
    const unknown = await crankKeys(['revoke', 'abcdefabcdef', '--data-dir', dataDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^crank keys: id: no API key "abcdefabcdef"/);
  });
});
