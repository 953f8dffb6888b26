import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** ECDSA P-256 with SHA-256: the only algorithm a Crank CA signs (DESIGN.md section 6). */
export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A freshly generated private key (PKCS#8 PEM) and a PKCS#10 request for `commonName`. */
export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

/**
 * Generates a P-256 key pair in memory and a CSR whose subject CN is `commonName`. The private
 * key never leaves the process that made it; only the CSR goes to the controller.
 */
export async function createKeyAndCsr(commonName: string): Promise<KeyAndCsr> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: KEY_ALGORITHM,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), csrPem: csr.toString('pem') };
}

/** Expiry of a PEM certificate (the first one, for a chain). */
export function certificateNotAfter(certPem: string): Date {
  return new x509.X509Certificate(certPem).notAfter;
}
