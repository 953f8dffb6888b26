import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CrankClient } from './crank-client.js';
import { certificateNotAfter } from './csr.js';
import { enroll } from './enroll.js';
import {
  controllerLocation,
  readCaCertificate,
  readTrust,
  type ControllerLocation,
  type TlsIdentity,
} from './identity.js';

export interface ConnectOptions extends Partial<ControllerLocation> {
  /** Caller name, the CN of its certificate. @default 'cli-' + the user name */
  name?: string;
  /** Use this identity instead of the one stored under the data dir. */
  identity?: TlsIdentity;
}

/** A stored certificate is renewed when less than this is left of it. */
const RENEW_BEFORE_MS = 60 * 60_000;

/**
 * Connects as a caller: reuses the certificate stored under `<dataDir>/callers/<name>.*`, or
 * enrolls (bootstrap token) and stores a new one when it is missing or about to expire.
 */
export async function connectClient(options: ConnectOptions = {}): Promise<CrankClient> {
  const location = controllerLocation(options);
  const identity = options.identity ?? (await callerIdentity(location, options.name ?? defaultCallerName()));
  return CrankClient.create(location.address, identity);
}

/** Loads the caller identity `name` from the data dir, enrolling a new one when needed. */
export async function callerIdentity(
  location: ControllerLocation,
  name: string,
  forceNew = false,
): Promise<TlsIdentity> {
  const dir = join(location.dataDir, 'callers');
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  const caPem = await readCaCertificate(location);
  if (!forceNew) {
    try {
      const [keyPem, certPem] = await Promise.all([readFile(keyFile, 'utf8'), readFile(certFile, 'utf8')]);
      const notAfter = certificateNotAfter(certPem);
      if (notAfter.getTime() - Date.now() > RENEW_BEFORE_MS)
        return { identity: name, keyPem, certPem, caPem, notAfter };
    } catch {
      // Missing or unreadable: enroll below.
    }
  }
  const { bootstrapToken } = await readTrust(location);
  const identity = await enroll({
    address: location.address,
    caPem,
    identity: name,
    kind: 'caller',
    bootstrapToken,
  });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyFile, identity.keyPem, { mode: 0o600 });
  await chmod(keyFile, 0o600);
  await writeFile(certFile, identity.certPem, { mode: 0o644 });
  return identity;
}

function defaultCallerName(): string {
  const user = (process.env['USER'] ?? 'user')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40);
  return `cli-${user || 'user'}`;
}
