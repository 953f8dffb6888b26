import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as x509 from '@peculiar/x509';
import {
  callerFiles,
  callerHome,
  controllerFingerprint,
  readCallerIdentity,
  writeCallerIdentity,
} from './caller-store.js';
import { callerIdentity, defaultCallerName } from './connect.js';
import { KEY_ALGORITHM } from './csr.js';
import { controllerLocation, type TlsIdentity } from './identity.js';

type Keys = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];

interface TestCa {
  pem: string;
  certificate: x509.X509Certificate;
  keys: Keys;
}

const HOUR_MS = 3_600_000;

async function newKeys(): Promise<Keys> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as unknown as Keys;
}

async function newCa(name: string): Promise<TestCa> {
  const keys = await newKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - HOUR_MS),
    notAfter: new Date(Date.now() + 24 * HOUR_MS),
    signingAlgorithm: KEY_ALGORITHM,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  return { pem: certificate.toString('pem'), certificate, keys };
}

/** A caller identity signed by `ca`, valid for `validMs` from now. */
async function newIdentity(ca: TestCa, name: string, validMs: number): Promise<TlsIdentity> {
  const keys = await newKeys();
  const notAfter = new Date(Math.floor((Date.now() + validMs) / 1000) * 1000);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: `CN=${name}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - HOUR_MS),
    notAfter,
    signingAlgorithm: KEY_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  return {
    identity: name,
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    certPem: certificate.toString('pem'),
    caPem: ca.pem,
    notAfter,
  };
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

let ca: TestCa;
let otherCa: TestCa;
let scratch: string;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([newCa('test-ca'), newCa('other-ca')]);
});

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'crank-caller-store-'));
});

afterEach(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('callerHome', () => {
  it('prefers the explicit directory, then CRANK_HOME, then ~/.config/crank', () => {
    expect(callerHome('/explicit', { CRANK_HOME: '/env' })).toBe('/explicit');
    expect(callerHome(undefined, { CRANK_HOME: '/env' })).toBe('/env');
    expect(callerHome(undefined, { CRANK_HOME: '' })).toBe(join(homedir(), '.config', 'crank'));
    expect(callerHome(undefined, {})).toBe(join(homedir(), '.config', 'crank'));
  });
});

describe('controllerFingerprint', () => {
  it('is the first 16 hex digits of the SHA-256 of the CA certificate DER', () => {
    const der = Buffer.from(ca.certificate.rawData);
    expect(controllerFingerprint(ca.pem)).toBe(createHash('sha256').update(der).digest('hex').slice(0, 16));
    expect(controllerFingerprint(ca.pem)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses text that holds no certificate', () => {
    expect(() => controllerFingerprint('not a certificate')).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        message: expect.stringContaining('CA certificate: must be a PEM certificate'),
      }),
    );
  });
});

describe('callerFiles', () => {
  it('keeps each controller in its own directory under <home>/callers', () => {
    const ours = callerFiles('/home/me/.config/crank', ca.pem, 'alice');
    const theirs = callerFiles('/home/me/.config/crank', otherCa.pem, 'alice');

    expect(ours).toEqual({
      dir: `/home/me/.config/crank/callers/${controllerFingerprint(ca.pem)}`,
      keyFile: `/home/me/.config/crank/callers/${controllerFingerprint(ca.pem)}/alice.key`,
      certFile: `/home/me/.config/crank/callers/${controllerFingerprint(ca.pem)}/alice.crt`,
    });
    expect(theirs.dir).not.toBe(ours.dir);
  });

  it.each(['../../etc/passwd', 'Alice', '-a', 'a-', '', 'a'.repeat(64)])('refuses the name %j', (name) => {
    expect(() => callerFiles('/h', ca.pem, name)).toThrow(
      expect.objectContaining({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/^name: must be a lowercase DNS label/),
      }),
    );
  });
});

describe('writeCallerIdentity and readCallerIdentity', () => {
  it('round-trips an identity with a 0700 home and directory and a 0600 key', async () => {
    const home = join(scratch, 'home');
    const files = callerFiles(home, ca.pem, 'alice');
    const identity = await newIdentity(ca, 'alice', 24 * HOUR_MS);

    await writeCallerIdentity(files, identity);

    expect(await modeOf(home)).toBe(0o700);
    expect(await modeOf(files.dir)).toBe(0o700);
    expect(await modeOf(files.keyFile)).toBe(0o600);
    expect(await readdir(files.dir)).toEqual(['alice.crt', 'alice.key']);
    await expect(readCallerIdentity(files, 'alice', ca.pem)).resolves.toEqual(identity);
  });

  it("reads nothing when a file is missing or the key is not the certificate's", async () => {
    const files = callerFiles(scratch, ca.pem, 'alice');
    await expect(readCallerIdentity(files, 'alice', ca.pem)).resolves.toBeUndefined();

    const [first, second] = await Promise.all([
      newIdentity(ca, 'alice', 24 * HOUR_MS),
      newIdentity(ca, 'alice', 24 * HOUR_MS),
    ]);
    await writeCallerIdentity(files, first);
    await writeFile(files.keyFile, second.keyPem);

    await expect(readCallerIdentity(files, 'alice', ca.pem)).resolves.toBeUndefined();
  });
});

describe('callerIdentity', () => {
  // Port 1 is closed: an enrollment attempt fails fast with UNAVAILABLE.
  const location = (dataDir: string) =>
    controllerLocation({ address: '127.0.0.1:1', dataDir, bootstrapToken: 'token' }, {});

  /** A controller data dir holding only the CA certificate, and an empty caller home path. */
  async function controllerAndHome(): Promise<{ dataDir: string; home: string }> {
    const dataDir = join(scratch, 'controller');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'ca.crt'), ca.pem);
    return { dataDir, home: join(scratch, 'home') };
  }

  it('uses the identity kept in the caller home and writes nothing to the controller data dir', async () => {
    const { dataDir, home } = await controllerAndHome();
    const kept = await newIdentity(ca, 'alice', 24 * HOUR_MS);
    await writeCallerIdentity(callerFiles(home, ca.pem, 'alice'), kept);

    const identity = await callerIdentity(location(dataDir), 'alice', { home });

    expect(identity).toEqual(kept);
    expect(await readdir(dataDir)).toEqual(['ca.crt']);
  });

  it('keeps the identities of two controllers apart', async () => {
    const { home } = await controllerAndHome();
    const ours = await newIdentity(ca, 'alice', 24 * HOUR_MS);
    const theirs = await newIdentity(otherCa, 'alice', 24 * HOUR_MS);
    await writeCallerIdentity(callerFiles(home, ca.pem, 'alice'), ours);
    await writeCallerIdentity(callerFiles(home, otherCa.pem, 'alice'), theirs);
    const otherDataDir = join(scratch, 'other-controller');
    await mkdir(otherDataDir);
    await writeFile(join(otherDataDir, 'ca.crt'), otherCa.pem);

    expect((await callerIdentity(location(join(scratch, 'controller')), 'alice', { home })).keyPem).toBe(
      ours.keyPem,
    );
    expect((await callerIdentity(location(otherDataDir), 'alice', { home })).keyPem).toBe(theirs.keyPem);
  });

  it('enrolls again when the kept certificate expires within the hour', async () => {
    const { dataDir, home } = await controllerAndHome();
    await writeCallerIdentity(
      callerFiles(home, ca.pem, 'alice'),
      await newIdentity(ca, 'alice', HOUR_MS / 2),
    );

    await expect(callerIdentity(location(dataDir), 'alice', { home })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });
});

describe('defaultCallerName', () => {
  it.each([
    [{ USER: 'alice' }, 'cli-alice'],
    [{ USER: 'Bob_Smith' }, 'cli-bob-smith'],
    [{ USER: 'x_' }, 'cli-x'],
    [{ USER: '', USERNAME: 'Win' }, 'cli-win'],
    [{ USER: '___' }, 'cli-user'],
  ])('makes a DNS label of %j', (env, name) => {
    expect(defaultCallerName(env)).toBe(name);
  });
});
