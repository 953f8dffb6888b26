import 'reflect-metadata';
import { createPublicKey, randomBytes, timingSafeEqual, webcrypto } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { CrankError } from '@crank/capabilities';
import { publicKeyFingerprint } from '@crank/proto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = Parameters<typeof x509.X509CertificateGenerator.create>[0] extends infer P
  ? P extends { signingKey: infer K }
    ? K
    : never
  : never;
type CryptoKeyPair = { privateKey: CryptoKey; publicKey: CryptoKey };

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const CA_VALIDITY_MS = 10 * 365 * 24 * 3600_000;
/** Certificates start slightly in the past so that small clock skew between hosts does not matter. */
const BACKDATE_MS = 5 * 60_000;
/** Worker and caller identities are DNS labels: they are also the certificate's DNS SAN. */
const IDENTITY_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Subject OU that says what an identity may do. */
export type IdentityKind = 'controller' | 'worker' | 'caller';

/** The controller's own name on the wire: clients verify the controller's certificate against it. */
export const CONTROLLER_IDENTITY = 'crank-controller';

/** Files of the CA under the data dir. The key and the token are mode 0600. */
export interface CaFiles {
  caKey: string;
  caCert: string;
  bootstrapToken: string;
}

export function caFiles(dataDir: string): CaFiles {
  return {
    caKey: join(dataDir, 'ca.key'),
    caCert: join(dataDir, 'ca.crt'),
    bootstrapToken: join(dataDir, 'bootstrap-token'),
  };
}

/** A signed certificate and its private key, both PEM. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

/**
 * The controller's certificate authority: an ECDSA P-256 key kept under the data dir. It signs
 * worker and caller CSRs (after the bootstrap token is checked) and the controller's own serving
 * certificate.
 */
export class CertificateAuthority {
  /** True when this call created the CA (first start). */
  readonly created: boolean;

  protected constructor(
    private readonly keys: CryptoKeyPair,
    readonly certificate: x509.X509Certificate,
    readonly bootstrapToken: string,
    readonly files: CaFiles,
    created: boolean,
  ) {
    this.created = created;
  }

  /** PEM of the CA certificate: what every party trusts. */
  get certPem(): string {
    return this.certificate.toString('pem');
  }

  /** Loads the CA from `dataDir`, or creates it (key, certificate, bootstrap token) on first start. */
  static async loadOrCreate(dataDir: string): Promise<CertificateAuthority> {
    const files = caFiles(dataDir);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const existing = await readIfExists(files.caKey);
    if (existing !== undefined) {
      const certificate = new x509.X509Certificate(await readFile(files.caCert, 'utf8'));
      const privateKey = await webcrypto.subtle.importKey(
        'pkcs8',
        x509.PemConverter.decodeFirst(existing),
        ALGORITHM,
        false,
        ['sign'],
      );
      const publicKey = await certificate.publicKey.export(ALGORITHM, ['verify']);
      const token = (await readFile(files.bootstrapToken, 'utf8')).trim();
      return new CertificateAuthority(
        { privateKey: privateKey as unknown as CryptoKey, publicKey },
        certificate,
        token,
        files,
        false,
      );
    }

    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
      'sign',
      'verify',
    ])) as unknown as CryptoKeyPair;
    const now = Date.now();
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=Crank CA ${hostname()}, O=Crank`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_VALIDITY_MS),
      signingAlgorithm: ALGORITHM,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey(
      'pkcs8',
      keys.privateKey as unknown as webcrypto.CryptoKey,
    );
    const token = randomBytes(32).toString('base64url');
    await writePrivate(files.caKey, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'));
    await writePrivate(files.bootstrapToken, `${token}\n`);
    await writeFile(files.caCert, certificate.toString('pem'), { mode: 0o644 });
    return new CertificateAuthority(keys, certificate, token, files, true);
  }

  /** Constant-time comparison of a presented bootstrap token. */
  checkToken(presented: string): boolean {
    const a = Buffer.from(presented);
    const b = Buffer.from(this.bootstrapToken);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * Signs a CSR. The identity is the CSR's CN, which must be a DNS label; it becomes both the CN and
   * a DNS SAN, so that the controller can verify a worker's serving certificate by its id.
   *
   * @throws CrankError INVALID_INPUT when the CSR is malformed, badly signed or names a bad identity.
   */
  async signCsr(
    csrPem: string,
    kind: Exclude<IdentityKind, 'controller'>,
    ttlMs: number,
  ): Promise<{ certPem: string; identity: string; notAfter: Date; keyFingerprint: string }> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (error) {
      throw new CrankError('INVALID_INPUT', 'csr_pem: not a PEM PKCS#10 certificate request', {
        cause: error,
      });
    }
    if (!(await csr.verify())) throw new CrankError('INVALID_INPUT', 'csr_pem: signature does not verify');
    const identity = csr.subjectName.getField('CN')[0] ?? '';
    if (!IDENTITY_PATTERN.test(identity) || identity === CONTROLLER_IDENTITY) {
      throw new CrankError(
        'INVALID_INPUT',
        `csr_pem: subject CN must be a lowercase DNS label other than "${CONTROLLER_IDENTITY}" (got "${identity}")`,
      );
    }
    const publicKey = await csr.publicKey.export(ALGORITHM, ['verify']);
    const cert = await this.issue(identity, kind, publicKey, ttlMs, [{ type: 'dns', value: identity }]);
    return {
      certPem: cert.toString('pem'),
      identity,
      notAfter: cert.notAfter,
      keyFingerprint: spkiFingerprint(csr.publicKey.rawData),
    };
  }

  /**
   * Issues the controller's own certificate (server and client auth), valid for its well-known name
   * plus loopback and this host's name.
   */
  async issueControllerCertificate(ttlMs: number, extraNames: string[] = []): Promise<IssuedCertificate> {
    const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
      'sign',
      'verify',
    ])) as unknown as CryptoKeyPair;
    const names: x509.JsonGeneralName[] = [
      { type: 'dns', value: CONTROLLER_IDENTITY },
      { type: 'dns', value: 'localhost' },
      { type: 'dns', value: hostname() },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
      ...extraNames.map((value): x509.JsonGeneralName => ({
        type: /^[\d.:]+$/.test(value) ? 'ip' : 'dns',
        value,
      })),
    ];
    const cert = await this.issue(CONTROLLER_IDENTITY, 'controller', keys.publicKey, ttlMs, names);
    const pkcs8 = await webcrypto.subtle.exportKey(
      'pkcs8',
      keys.privateKey as unknown as webcrypto.CryptoKey,
    );
    return {
      certPem: cert.toString('pem'),
      keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
      notAfter: cert.notAfter,
    };
  }

  private async issue(
    identity: string,
    kind: IdentityKind,
    publicKey: CryptoKey,
    ttlMs: number,
    names: x509.JsonGeneralName[],
  ): Promise<x509.X509Certificate> {
    const now = Date.now();
    return x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${identity}, OU=${kind}, O=Crank`,
      issuer: this.certificate.subject,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + ttlMs),
      signingAlgorithm: ALGORITHM,
      publicKey,
      signingKey: this.keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
      ],
    });
  }
}

function serial(): string {
  // Positive 128-bit serial: clear the top bit so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function writePrivate(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

/**
 * The {@link publicKeyFingerprint} of an EC public key given as SPKI DER: the same name the TLS
 * layer gives the key of a peer certificate, which carries the raw point.
 */
export function spkiFingerprint(spkiDer: ArrayBuffer): string {
  const jwk = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }).export({
    format: 'jwk',
  });
  const point = Buffer.concat([
    Buffer.from([0x04]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  return publicKeyFingerprint(point);
}
