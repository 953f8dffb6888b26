import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What an API key may do on the controller's HTTP API: `invoke` (capability calls and streams),
 * `jobs` (the job API), `admin` (everything). Reads such as `/v1/workers` need any valid key.
 */
export type ApiKeyScope = 'invoke' | 'jobs' | 'admin';

/** Every {@link ApiKeyScope}, in the order usage texts list them. */
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['invoke', 'jobs', 'admin'];

/** Name of the key file under the controller's data dir. */
export const API_KEYS_FILE_NAME = 'api-keys.json';

/** A stored key as {@link ApiKeyStore.list} shows it: never its secret, nor the secret's hash. */
export interface ApiKeyInfo {
  /** Public part of the key text, for lookup, listing and revocation (12 hex digits). */
  readonly id: string;
  /** Who or what the key is for; free text chosen at creation. */
  readonly name: string;
  readonly scopes: readonly ApiKeyScope[];
  /** ISO 8601. */
  readonly createdAt: string;
  /** ISO 8601; absent while the key is valid. */
  readonly revokedAt?: string;
}

/** The outcome of {@link ApiKeyStore.verify}. `reason` is for logs, not for the caller. */
export type ApiKeyVerdict =
  | { readonly ok: true; readonly key: ApiKeyInfo }
  | {
      readonly ok: false;
      readonly reason: 'malformed' | 'unknown' | 'revoked' | 'mismatch';
      /** The id the presented text names, when it is well formed. */
      readonly keyId?: string;
    };

/** A key just created: `key` is the only copy of the secret there will ever be. */
export interface CreatedApiKey {
  readonly key: string;
  readonly info: ApiKeyInfo;
}

export interface ApiKeyStoreOptions {
  /** Clock of {@link ApiKeyStore.refresh}'s interval. @default Date.now */
  now?: () => number;
  /** Shortest time between two looks at the file by {@link ApiKeyStore.refresh}. @default 1000 */
  checkIntervalMs?: number;
}

/** One key on disk: the sha256 of the secret (hex), never the secret. */
interface StoredKey extends ApiKeyInfo {
  readonly sha256: string;
}

interface KeyFile {
  version: 1;
  keys: StoredKey[];
}

/** `crk_<id>_<secret>`: 12 hex digits of id, 32 random bytes of secret in base64url (43 chars). */
const KEY_PATTERN = /^crk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
const ID_PATTERN = /^[0-9a-f]{12}$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const NAME_PATTERN = /^[A-Za-z0-9][\w .@:+/-]{0,63}$/;
/** Signature of a file that is not there. */
const ABSENT = 'absent';

/**
 * The controller's API keys, kept in `<dataDir>/api-keys.json` (mode 0600). The file holds each
 * key's id, name, scopes, dates and the sha256 of its secret; the secret itself is shown once, by
 * {@link create}, and never stored. The secret is 256 random bits, so a plain sha256 is as strong
 * as a slow password hash here and costs microseconds per request.
 *
 * The controller reads the file at start and calls {@link refresh} on requests: it looks at the
 * file's inode, size and mtime at most once per `checkIntervalMs` and reloads it when they
 * changed, so a key created or revoked by `crank keys` takes effect without a restart. Every write
 * replaces the file by rename, so a reader never sees half of one. Two writers at the same instant
 * (two `crank keys create` runs) can lose one of the two changes; the last rename wins.
 *
 * @example
 * ```ts
 * const store = await ApiKeyStore.open('/var/lib/crank');
 * const { key } = await store.create({ name: 'ci', scopes: ['invoke'] });
 * store.verify(key); // { ok: true, key: { id, name: 'ci', scopes: ['invoke'], createdAt } }
 * ```
 */
export class ApiKeyStore {
  /** Invariant: the keys of the file as last read or written, by id. */
  private keys = new Map<string, StoredKey>();
  /** Invariant: the stat signature of the file those keys came from (or {@link ABSENT}). */
  private signature = ABSENT;
  private lastCheckMs: number;
  /** The reload in progress, shared by the requests that arrive while it runs. */
  private checking: Promise<boolean> | undefined;

  protected constructor(
    /** Absolute path of the key file. */
    readonly file: string,
    private readonly now: () => number,
    private readonly checkIntervalMs: number,
  ) {
    this.lastCheckMs = now();
  }

  /**
   * Reads the key file of `dataDir`; a missing file is an empty store (created on the first
   * {@link create}).
   *
   * @throws Error when the file exists but is not a valid key file; the message names the file and
   *   the entry at fault.
   */
  static async open(dataDir: string, options: ApiKeyStoreOptions = {}): Promise<ApiKeyStore> {
    const store = new ApiKeyStore(
      join(dataDir, API_KEYS_FILE_NAME),
      options.now ?? Date.now,
      options.checkIntervalMs ?? 1_000,
    );
    await store.reload();
    return store;
  }

  /** Every key, revoked ones included, oldest first; never a secret or a hash. */
  list(): ApiKeyInfo[] {
    return [...this.keys.values()].map(publicInfo);
  }

  /** The number of keys that are not revoked. */
  get activeCount(): number {
    let count = 0;
    for (const key of this.keys.values()) if (key.revokedAt === undefined) count += 1;
    return count;
  }

  /**
   * Checks a presented key text against the keys in memory: the id finds the entry, the sha256 of
   * the secret is compared with the stored one in constant time. Does no I/O.
   */
  verify(presented: string): ApiKeyVerdict {
    const match = KEY_PATTERN.exec(presented);
    if (!match) return { ok: false, reason: 'malformed' };
    const id = match[1] ?? '';
    const digest = sha256(match[2] ?? '');
    const stored = this.keys.get(id);
    if (!stored) return { ok: false, reason: 'unknown', keyId: id };
    if (!timingSafeEqual(digest, Buffer.from(stored.sha256, 'hex')))
      return { ok: false, reason: 'mismatch', keyId: id };
    if (stored.revokedAt !== undefined) return { ok: false, reason: 'revoked', keyId: id };
    return { ok: true, key: publicInfo(stored) };
  }

  /**
   * {@link reload} at most once per `checkIntervalMs`; calls in between resolve `false` at once,
   * and calls during a reload share it. Resolves `true` when the keys changed.
   *
   * @throws Error as {@link reload} does.
   */
  refresh(): Promise<boolean> {
    if (this.checking) return this.checking;
    const now = this.now();
    if (now - this.lastCheckMs < this.checkIntervalMs) return Promise.resolve(false);
    this.lastCheckMs = now;
    this.checking = this.reload().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  /**
   * Reads the file again when its inode, size or mtime differ from the last read. A file that was
   * removed leaves no key valid; so does one that cannot be parsed (fail closed), until it is
   * replaced by a valid one. Resolves `true` when the keys changed.
   *
   * @throws Error when the file cannot be parsed (the store is then empty).
   */
  async reload(): Promise<boolean> {
    let handle: FileHandle;
    try {
      handle = await open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (this.signature === ABSENT) return false;
      this.keys = new Map();
      this.signature = ABSENT;
      return true;
    }
    try {
      // One handle for the stat and the read: a rename in between cannot mix two files.
      const signature = signatureOf(await handle.stat());
      if (signature === this.signature) return false;
      this.signature = signature;
      this.keys = new Map();
      this.keys = parseKeyFile(await handle.readFile('utf8'), this.file);
      return true;
    } finally {
      await handle.close();
    }
  }

  /**
   * Creates a key with a fresh id and secret, reading the file first so that keys written by
   * another process are kept.
   *
   * @throws Error when the name or a scope breaks its rule; the message names the field.
   */
  async create(init: { name: string; scopes: readonly string[] }): Promise<CreatedApiKey> {
    const name = init.name.trim();
    if (!NAME_PATTERN.test(name)) {
      throw new Error(
        `name: "${init.name}" must be 1 to 64 letters, digits, spaces or ._@:+/- and start with a letter or digit`,
      );
    }
    const scopes = parseApiKeyScopes(init.scopes);
    await this.reload();
    let id = randomBytes(6).toString('hex');
    while (this.keys.has(id)) id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const stored: StoredKey = {
      id,
      name,
      scopes,
      createdAt: new Date().toISOString(),
      sha256: sha256(secret).toString('hex'),
    };
    const next = new Map(this.keys).set(id, stored);
    await this.write(next);
    return { key: `crk_${id}_${secret}`, info: publicInfo(stored) };
  }

  /**
   * Marks a key revoked (it stays listed). Revoking a revoked key changes nothing.
   *
   * @throws Error when no key has this id.
   */
  async revoke(id: string): Promise<ApiKeyInfo> {
    await this.reload();
    const stored = this.keys.get(id);
    if (!stored) throw new Error(`id: no API key "${id}" in ${this.file}`);
    if (stored.revokedAt !== undefined) return publicInfo(stored);
    const revoked: StoredKey = { ...stored, revokedAt: new Date().toISOString() };
    await this.write(new Map(this.keys).set(id, revoked));
    return publicInfo(revoked);
  }

  /** Writes `keys` to a temporary file (mode 0600, synced), renames it over the key file. */
  private async write(keys: Map<string, StoredKey>): Promise<void> {
    const dir = join(this.file, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const body: KeyFile = { version: 1, keys: [...keys.values()] };
    const temporary = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await open(temporary, 'wx', 0o600);
    try {
      try {
        await handle.writeFile(`${JSON.stringify(body, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // The umask can only clear bits; set the mode outright all the same.
      await chmod(temporary, 0o600);
      await rename(temporary, this.file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    this.keys = keys;
    this.signature = signatureOf(await stat(this.file));
  }
}

/**
 * Checks a list of scope names (e.g. from `--scopes invoke,jobs`) and returns it without
 * duplicates, in {@link API_KEY_SCOPES} order.
 *
 * @throws Error naming `scopes` when the list is empty or holds an unknown scope.
 */
export function parseApiKeyScopes(names: readonly string[]): ApiKeyScope[] {
  const wanted = new Set(names.map((name) => name.trim()).filter((name) => name !== ''));
  if (wanted.size === 0) throw new Error(`scopes: name at least one of ${API_KEY_SCOPES.join(', ')}`);
  for (const name of wanted) {
    if (!(API_KEY_SCOPES as readonly string[]).includes(name))
      throw new Error(`scopes: "${name}" is not a scope (one of ${API_KEY_SCOPES.join(', ')})`);
  }
  return API_KEY_SCOPES.filter((scope) => wanted.has(scope));
}

/** Whether `key` grants `scope`: it holds the scope itself, or `admin`. */
export function apiKeyGrants(key: Pick<ApiKeyInfo, 'scopes'>, scope: ApiKeyScope): boolean {
  return key.scopes.includes(scope) || key.scopes.includes('admin');
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function publicInfo(key: StoredKey): ApiKeyInfo {
  return {
    id: key.id,
    name: key.name,
    scopes: [...key.scopes],
    createdAt: key.createdAt,
    ...(key.revokedAt === undefined ? {} : { revokedAt: key.revokedAt }),
  };
}

function signatureOf(stats: { ino: number; size: number; mtimeMs: number }): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

function parseKeyFile(text: string, file: string): Map<string, StoredKey> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file}: not valid JSON (${(error as Error).message})`);
  }
  const shape = data as Partial<KeyFile> | null;
  if (typeof shape !== 'object' || shape === null || shape.version !== 1 || !Array.isArray(shape.keys))
    throw new Error(`${file}: expected { "version": 1, "keys": [...] }`);
  const keys = new Map<string, StoredKey>();
  shape.keys.forEach((entry: unknown, index) => {
    const at = `${file}: keys[${index}]`;
    const key = entry as Partial<Record<keyof StoredKey, unknown>> | null;
    if (typeof key !== 'object' || key === null) throw new Error(`${at}: must be an object`);
    if (typeof key.id !== 'string' || !ID_PATTERN.test(key.id))
      throw new Error(`${at}.id: must be 12 hex digits`);
    if (keys.has(key.id)) throw new Error(`${at}.id: "${key.id}" appears twice`);
    if (typeof key.name !== 'string') throw new Error(`${at}.name: must be a string`);
    if (typeof key.sha256 !== 'string' || !SHA256_PATTERN.test(key.sha256))
      throw new Error(`${at}.sha256: must be 64 hex digits`);
    if (typeof key.createdAt !== 'string') throw new Error(`${at}.createdAt: must be a string`);
    if (key.revokedAt !== undefined && typeof key.revokedAt !== 'string')
      throw new Error(`${at}.revokedAt: must be a string when present`);
    if (!Array.isArray(key.scopes) || !key.scopes.every((s): s is string => typeof s === 'string'))
      throw new Error(`${at}.scopes: must be a list of scope names`);
    let scopes: ApiKeyScope[];
    try {
      scopes = parseApiKeyScopes(key.scopes);
    } catch (error) {
      throw new Error(`${at}.${(error as Error).message}`);
    }
    keys.set(key.id, {
      id: key.id,
      name: key.name,
      scopes,
      createdAt: key.createdAt,
      sha256: key.sha256,
      ...(key.revokedAt === undefined ? {} : { revokedAt: key.revokedAt }),
    });
  });
  return keys;
}
