import 'reflect-metadata';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as x509 from '@peculiar/x509';
import { CrankError } from '@crank/capabilities';
import { CertificateAuthority } from './certificate-authority.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR_MS = 3_600_000;

/** A CSR as a worker makes it: its own P-256 key, the identity as CN. */
async function csrFor(commonName: string): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${commonName}`,
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: ALGORITHM,
  });
  return csr.toString('pem');
}

function sanOf(pem: string): string | undefined {
  return new X509Certificate(pem).subjectAltName;
}

async function expectRefused(attempt: Promise<unknown>, message: RegExp): Promise<void> {
  await expect(attempt).rejects.toBeInstanceOf(CrankError);
  await expect(attempt).rejects.toMatchObject({
    code: 'INVALID_INPUT',
    message: expect.stringMatching(message),
  });
}

describe('CertificateAuthority', () => {
  let dataDir: string;
  let ca: CertificateAuthority;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'crank-ca-spec-'));
    ca = await CertificateAuthority.loadOrCreate(join(dataDir, 'data'));
  });

  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('loadOrCreate', () => {
    it('creates the key, the certificate and the bootstrap token on first start, secrets mode 0600', () => {
      expect(ca.created).toBe(true);
      expect(statSync(ca.files.caKey).mode & 0o777).toBe(0o600);
      expect(statSync(ca.files.bootstrapToken).mode & 0o777).toBe(0o600);
      expect(statSync(ca.files.caCert).isFile()).toBe(true);
      expect(ca.bootstrapToken.length).toBeGreaterThanOrEqual(32);

      const cert = new X509Certificate(ca.certPem);
      expect(cert.ca).toBe(true);
      expect(cert.checkIssued(cert)).toBe(true);
    });

    it('loads the same CA and token on the next start', async () => {
      const again = await CertificateAuthority.loadOrCreate(join(dataDir, 'data'));
      expect(again.created).toBe(false);
      expect(again.certPem).toBe(ca.certPem);
      expect(again.bootstrapToken).toBe(ca.bootstrapToken);

      // The loaded key still signs certificates that chain to the same CA.
      const { certPem } = await again.signCsr(await csrFor('worker-2'), 'worker', HOUR_MS);
      expect(new X509Certificate(certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    });
  });

  describe('checkToken', () => {
    it('accepts only the exact token', () => {
      expect(ca.checkToken(ca.bootstrapToken)).toBe(true);
      expect(ca.checkToken(`${ca.bootstrapToken} `)).toBe(false);
      expect(ca.checkToken(ca.bootstrapToken.slice(1))).toBe(false);
      expect(ca.checkToken('')).toBe(false);
    });
  });

  describe('signCsr', () => {
    it('issues a certificate for the CSR identity, signed by the CA, valid for the TTL', async () => {
      const before = Date.now();
      const issued = await ca.signCsr(await csrFor('worker-1'), 'worker', 24 * HOUR_MS);

      expect(issued.identity).toBe('worker-1');
      const cert = new X509Certificate(issued.certPem);
      const caCert = new X509Certificate(ca.certPem);
      expect(cert.subject.split('\n')).toEqual(expect.arrayContaining(['CN=worker-1', 'OU=worker']));
      expect(sanOf(issued.certPem)).toBe('DNS:worker-1');
      expect(cert.checkIssued(caCert)).toBe(true);
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.ca).toBe(false);

      const notAfterMs = new Date(cert.validTo).getTime();
      expect(issued.notAfter.getTime()).toBe(notAfterMs);
      // validTo has second precision.
      expect(notAfterMs).toBeGreaterThanOrEqual(before + 24 * HOUR_MS - 1_000);
      expect(notAfterMs).toBeLessThanOrEqual(Date.now() + 24 * HOUR_MS);
      expect(new Date(cert.validFrom).getTime()).toBeLessThanOrEqual(before);
    });

    it('marks caller certificates with OU=caller', async () => {
      const { certPem } = await ca.signCsr(await csrFor('ops-cli'), 'caller', HOUR_MS);
      expect(new X509Certificate(certPem).subject.split('\n')).toEqual(
        expect.arrayContaining(['CN=ops-cli', 'OU=caller']),
      );
    });

    it('refuses text that is not a CSR', async () => {
      await expectRefused(
        ca.signCsr(
          '-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n-----END CERTIFICATE REQUEST-----',
          'worker',
          HOUR_MS,
        ),
        /^csr_pem: not a PEM PKCS#10 certificate request/,
      );
      await expectRefused(ca.signCsr('garbage', 'worker', HOUR_MS), /^csr_pem: /);
    });

    it.each(['Worker-1', 'worker_1', '-worker', 'crank-controller'])(
      'refuses the identity %j, naming csr_pem',
      async (name) => {
        await expectRefused(
          ca.signCsr(await csrFor(name), 'worker', HOUR_MS),
          /^csr_pem: subject CN must be a lowercase DNS label other than "crank-controller"/,
        );
      },
    );
  });

  describe('issueControllerCertificate', () => {
    it('names the controller and loopback, and adds extra names', async () => {
      const issued = await ca.issueControllerCertificate(HOUR_MS, ['ctl.example.org', '10.1.2.3']);
      const cert = new X509Certificate(issued.certPem);
      const san = sanOf(issued.certPem)?.split(', ') ?? [];

      expect(san).toEqual(
        expect.arrayContaining([
          'DNS:crank-controller',
          'DNS:localhost',
          'IP Address:127.0.0.1',
          'DNS:ctl.example.org',
          'IP Address:10.1.2.3',
        ]),
      );
      expect(cert.subject.split('\n')).toEqual(
        expect.arrayContaining(['CN=crank-controller', 'OU=controller']),
      );
      expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
      expect(cert.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
    });
  });
});
