import { userInfo } from 'node:os';
import { callerFiles, callerHome, readCallerIdentity, writeCallerIdentity } from './caller-store.js';
import { CrankClient } from './crank-client.js';
import { enroll } from './enroll.js';
import {
  controllerLocation,
  readCaCertificate,
  readTrust,
  type ControllerLocation,
  type TlsIdentity,
} from './identity.js';

/** Where to find the controller and who to be when connecting to it. */
export interface ConnectOptions extends Partial<ControllerLocation> {
  /** Caller name, the CN of its certificate: a lowercase DNS label. @default 'cli-' + the user name */
  name?: string;
  /**
   * The caller's own directory, holding its keys and certificates (`CRANK_HOME`).
   * @default `~/.config/crank`
   */
  home?: string;
  /** Use this identity instead of the one kept under `home`. */
  identity?: TlsIdentity;
}

/** How {@link callerIdentity} finds or makes an identity. */
export interface CallerIdentityOptions {
  /** The caller's own directory (`CRANK_HOME`). @default `~/.config/crank` */
  home?: string;
  /** Enroll for a new certificate even when a valid one is kept. @default false */
  forceNew?: boolean;
}

/** A kept certificate is renewed when less than this is left of it. */
const RENEW_BEFORE_MS = 60 * 60_000;

/**
 * Connects as a caller: reuses the certificate kept under
 * `<home>/callers/<controller fingerprint>/<name>.*`, or enrolls (bootstrap token) and keeps a new
 * one when it is missing or about to expire. The CA and the bootstrap token are read from the
 * controller's location (`CRANK_DATA_DIR`, `CRANK_CA_FILE`, `CRANK_BOOTSTRAP_TOKEN`).
 */
export async function connectClient(options: ConnectOptions = {}): Promise<CrankClient> {
  const location = controllerLocation(options);
  const identity =
    options.identity ??
    (await callerIdentity(location, options.name ?? defaultCallerName(), {
      ...(options.home !== undefined ? { home: options.home } : {}),
    }));
  return CrankClient.create(location.address, identity);
}

/**
 * Loads the caller identity `name` for the controller at `location` from the caller's home,
 * enrolling and keeping a new one when none is kept, it expires within the hour, or `forceNew`.
 *
 * @throws CrankError INVALID_INPUT when `name` is not a lowercase DNS label; the enrollment's
 *   errors (UNAUTHENTICATED on a wrong token, UNAVAILABLE when the controller is down)
 */
export async function callerIdentity(
  location: ControllerLocation,
  name: string,
  options: CallerIdentityOptions = {},
): Promise<TlsIdentity> {
  const caPem = await readCaCertificate(location);
  const files = callerFiles(callerHome(options.home), caPem, name);
  if (!options.forceNew) {
    const kept = await readCallerIdentity(files, name, caPem);
    if (kept && kept.notAfter.getTime() - Date.now() > RENEW_BEFORE_MS) return kept;
  }
  const { bootstrapToken } = await readTrust(location);
  const identity = await enroll({
    address: location.address,
    caPem,
    identity: name,
    kind: 'caller',
    bootstrapToken,
  });
  await writeCallerIdentity(files, identity);
  return identity;
}

/** `cli-<user name>`, made a DNS label. */
export function defaultCallerName(env: NodeJS.ProcessEnv = process.env): string {
  const user = (env['USER'] || env['USERNAME'] || safeUserName())
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '');
  return `cli-${user || 'user'}`;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'user';
  }
}
