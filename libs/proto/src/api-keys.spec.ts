import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { API_KEYS_FILE_NAME, ApiKeyStore, apiKeyGrants, parseApiKeyScopes } from './api-keys.js';

describe('ApiKeyStore', () => {
  let dataDir: string;
  let file: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'crank-keys-spec-'));
    file = join(dataDir, API_KEYS_FILE_NAME);
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('opens a data dir without a key file as an empty store, creating nothing', async () => {
    const store = await ApiKeyStore.open(dataDir);
    expect(store.list()).toEqual([]);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('creates a key that verifies, with its scopes, and shows the secret only in the key text', async () => {
    const store = await ApiKeyStore.open(dataDir);
    const { key, info } = await store.create({ name: 'ci deploy', scopes: ['jobs', 'invoke', 'jobs'] });

    expect(key).toMatch(/^crk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(`crk_${info.id}_`)).toBe(true);
    expect(info).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{12}$/),
      name: 'ci deploy',
      scopes: ['invoke', 'jobs'],
      createdAt: expect.any(String),
    });
    expect(store.verify(key)).toEqual({ ok: true, key: info });
    expect(store.list()).toEqual([info]);
  });

  it('writes the file mode 0600 with the hash of the secret, never the secret, and no temporary left', async () => {
    const store = await ApiKeyStore.open(join(dataDir, 'fresh'));
    const { key, info } = await store.create({ name: 'ops', scopes: ['admin'] });
    const written = join(dataDir, 'fresh', API_KEYS_FILE_NAME);
    const secret = key.slice(`crk_${info.id}_`.length);

    expect(statSync(written).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'fresh')).mode & 0o777).toBe(0o700);
    const text = readFileSync(written, 'utf8');
    expect(text).not.toContain(secret);
    expect(JSON.parse(text)).toEqual({
      version: 1,
      keys: [
        {
          id: info.id,
          name: 'ops',
          scopes: ['admin'],
          createdAt: info.createdAt,
          sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      ],
    });
    expect(readdirSync(join(dataDir, 'fresh'))).toEqual([API_KEYS_FILE_NAME]);
  });

  it('refuses wrong secrets, unknown ids and malformed text, saying why', async () => {
    const store = await ApiKeyStore.open(dataDir);
    const { key, info } = await store.create({ name: 'a', scopes: ['invoke'] });
    const otherSecret = (await store.create({ name: 'b', scopes: ['invoke'] })).key
      .split('_')
      .slice(2)
      .join('_');

    expect(store.verify(`crk_${info.id}_${otherSecret}`)).toEqual({
      ok: false,
      reason: 'mismatch',
      keyId: info.id,
    });
    expect(store.verify(`crk_000000000000_${otherSecret}`)).toEqual({
      ok: false,
      reason: 'unknown',
      keyId: '000000000000',
    });
    expect(store.verify(`${key}x`)).toEqual({ ok: false, reason: 'malformed' });
    expect(store.verify('')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('revokes a key: it stays listed with its date and no longer verifies; revoking again changes nothing', async () => {
    const store = await ApiKeyStore.open(dataDir);
    const { key, info } = await store.create({ name: 'laptop', scopes: ['invoke'] });

    const revoked = await store.revoke(info.id);
    expect(revoked).toEqual({ ...info, revokedAt: expect.any(String) });
    expect(store.verify(key)).toEqual({ ok: false, reason: 'revoked', keyId: info.id });
    expect(store.list()).toEqual([revoked]);
    expect(await store.revoke(info.id)).toEqual(revoked);
    await expect(store.revoke('abcdefabcdef')).rejects.toThrow(/^id: no API key "abcdefabcdef" in /);
  });

  it('keeps keys another process wrote when it creates one', async () => {
    const first = await ApiKeyStore.open(dataDir);
    const second = await ApiKeyStore.open(dataDir);
    const a = await first.create({ name: 'a', scopes: ['invoke'] });
    const b = await second.create({ name: 'b', scopes: ['jobs'] });
    expect(second.list().map((k) => k.id)).toEqual([a.info.id, b.info.id]);
    expect((await ApiKeyStore.open(dataDir)).verify(a.key).ok).toBe(true);
  });

  describe('refresh', () => {
    it('sees a revocation by another process once the check interval has passed', async () => {
      let nowMs = 1_000_000;
      const controller = await ApiKeyStore.open(dataDir, { now: () => nowMs });
      const cli = await ApiKeyStore.open(dataDir);
      const { key, info } = await cli.create({ name: 'a', scopes: ['invoke'] });

      expect(await controller.refresh()).toBe(false); // not due yet
      expect(controller.verify(key).ok).toBe(false);
      nowMs += 1_000;
      expect(await controller.refresh()).toBe(true);
      expect(controller.verify(key).ok).toBe(true);

      await cli.revoke(info.id);
      nowMs += 999;
      expect(await controller.refresh()).toBe(false);
      expect(controller.verify(key).ok).toBe(true);
      nowMs += 1;
      expect(await controller.refresh()).toBe(true);
      expect(controller.verify(key)).toMatchObject({ ok: false, reason: 'revoked' });

      nowMs += 1_000;
      expect(await controller.refresh()).toBe(false); // file unchanged
    });

    it('lets no key through once the file is removed', async () => {
      const store = await ApiKeyStore.open(dataDir, { checkIntervalMs: 0 });
      const { key } = await store.create({ name: 'a', scopes: ['invoke'] });
      rmSync(file);
      expect(await store.refresh()).toBe(true);
      expect(store.verify(key)).toMatchObject({ ok: false, reason: 'unknown' });
    });

    it('fails closed on a file it cannot parse, naming the file, and recovers when it is fixed', async () => {
      const store = await ApiKeyStore.open(dataDir, { checkIntervalMs: 0 });
      const { key } = await store.create({ name: 'a', scopes: ['invoke'] });
      const good = readFileSync(file, 'utf8');

      writeFileSync(`${file}.new`, '{ "version": 1, "keys": [ { "id": "nope" } ] }', { mode: 0o600 });
      await rename(`${file}.new`, file);
      await expect(store.refresh()).rejects.toThrow(`${file}: keys[0].id: must be 12 hex digits`);
      expect(store.verify(key).ok).toBe(false);
      expect(await store.refresh()).toBe(false); // reported once, not on every check

      writeFileSync(`${file}.new`, good, { mode: 0o600 });
      await rename(`${file}.new`, file);
      expect(await store.refresh()).toBe(true);
      expect(store.verify(key).ok).toBe(true);
    });
  });

  it('refuses to open a file that is not a key file, naming the file and the entry', async () => {
    writeFileSync(file, 'not json');
    await expect(ApiKeyStore.open(dataDir)).rejects.toThrow(new RegExp(`^${file}: not valid JSON`));
    writeFileSync(file, '{ "keys": [] }');
    await expect(ApiKeyStore.open(dataDir)).rejects.toThrow(
      `${file}: expected { "version": 1, "keys": [...] }`,
    );
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        keys: [{ id: 'aaaaaaaaaaaa', name: 'x', scopes: ['root'], sha256: 'a'.repeat(64), createdAt: 'now' }],
      }),
    );
    await expect(ApiKeyStore.open(dataDir)).rejects.toThrow(
      `${file}: keys[0].scopes: "root" is not a scope (one of invoke, jobs, admin)`,
    );
  });

  it('refuses a bad name or scope list, naming the field', async () => {
    const store = await ApiKeyStore.open(dataDir);
    await expect(store.create({ name: ' ', scopes: ['invoke'] })).rejects.toThrow(
      /^name: " " must be 1 to 64/,
    );
    await expect(store.create({ name: 'x', scopes: [] })).rejects.toThrow(
      'scopes: name at least one of invoke, jobs, admin',
    );
    expect(readdirSync(dataDir)).toEqual([]);
  });
});

describe('parseApiKeyScopes', () => {
  it('orders and deduplicates, and refuses unknown names', () => {
    expect(parseApiKeyScopes(['admin', ' invoke ', 'admin'])).toEqual(['invoke', 'admin']);
    expect(() => parseApiKeyScopes(['invoke', 'write'])).toThrow(
      'scopes: "write" is not a scope (one of invoke, jobs, admin)',
    );
  });
});

describe('apiKeyGrants', () => {
  it('grants a held scope, and every scope to admin', () => {
    expect(apiKeyGrants({ scopes: ['invoke'] }, 'invoke')).toBe(true);
    expect(apiKeyGrants({ scopes: ['invoke'] }, 'jobs')).toBe(false);
    expect(apiKeyGrants({ scopes: ['admin'] }, 'jobs')).toBe(true);
  });
});
