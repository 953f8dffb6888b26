import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { CrankError } from '@crank/capabilities';
import { certificateNotAfter } from './csr.js';
import type { TlsIdentity } from './identity.js';

/** Caller names are DNS labels: the controller puts them in the certificate's CN and DNS SAN. */
const NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The caller's own directory, where its keys and certificates live: `home`, else `CRANK_HOME`,
 * else `~/.config/crank`. Never the controller's data dir: a caller may talk to several
 * controllers, and it owns its keys.
 */
export function callerHome(home?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(home ?? (env['CRANK_HOME'] || join(homedir(), '.config', 'crank')));
}

/**
 * Names a controller by its trust: the first 16 hex digits of the SHA-256 of its CA certificate
 * (DER; the first certificate of a chain).
 *
 * @throws CrankError INVALID_INPUT when `caPem` holds no certificate
 */
export function controllerFingerprint(caPem: string): string {
  let der: Buffer;
  try {
    der = new X509Certificate(caPem).raw;
  } catch (error) {
    throw new CrankError(
      'INVALID_INPUT',
      `CA certificate: must be a PEM certificate (${(error as Error).message})`,
    );
  }
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Where one caller identity for one controller is kept. */
export interface CallerFiles {
  /** `<home>/callers/<controller fingerprint>`, mode 0700. */
  dir: string;
  /** `<dir>/<name>.key`: PKCS#8 private key, mode 0600. */
  keyFile: string;
  /** `<dir>/<name>.crt`: the certificate the controller signed. */
  certFile: string;
}

/**
 * The files of caller `name` for the controller whose CA is `caPem`, under `home`: one directory
 * per controller, so that two controllers never share (or overwrite) a file.
 *
 * @throws CrankError INVALID_INPUT when `name` is not a lowercase DNS label
 */
export function callerFiles(home: string, caPem: string, name: string): CallerFiles {
  if (!NAME_PATTERN.test(name)) {
    throw new CrankError(
      'INVALID_INPUT',
      `name: must be a lowercase DNS label of a-z, 0-9 and inner "-", at most 63 long (got ${JSON.stringify(name)})`,
    );
  }
  const dir = join(home, 'callers', controllerFingerprint(caPem));
  return { dir, keyFile: join(dir, `${name}.key`), certFile: join(dir, `${name}.crt`) };
}

/**
 * The identity kept in `files`, or `undefined` when a file is missing or unreadable, or the key
 * does not belong to the certificate (a write cut short): the caller then enrolls again.
 */
export async function readCallerIdentity(
  files: CallerFiles,
  name: string,
  caPem: string,
): Promise<TlsIdentity | undefined> {
  try {
    const [keyPem, certPem] = await Promise.all([
      readFile(files.keyFile, 'utf8'),
      readFile(files.certFile, 'utf8'),
    ]);
    const certificate = new X509Certificate(certPem);
    if (!certificate.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
    return { identity: name, keyPem, certPem, caPem, notAfter: certificateNotAfter(certPem) };
  } catch {
    return undefined;
  }
}

/**
 * Keeps `identity` in `files`: the directory (and any parent it creates) 0700, the key 0600. Each
 * file is written beside its place and renamed into it, so a reader never sees half a file.
 */
export async function writeCallerIdentity(files: CallerFiles, identity: TlsIdentity): Promise<void> {
  await mkdir(files.dir, { recursive: true, mode: 0o700 });
  const suffix = `.${process.pid}.tmp`;
  try {
    await writeFile(files.keyFile + suffix, identity.keyPem, { mode: 0o600 });
    await chmod(files.keyFile + suffix, 0o600);
    await writeFile(files.certFile + suffix, identity.certPem, { mode: 0o644 });
    await rename(files.keyFile + suffix, files.keyFile);
    await rename(files.certFile + suffix, files.certFile);
  } finally {
    await Promise.all([
      rm(files.keyFile + suffix, { force: true }),
      rm(files.certFile + suffix, { force: true }),
    ]);
  }
}
