import type { experimental } from '@grpc/grpc-js';
import type { TlsIdentity } from '@crank/controller-client';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * A grpc-js certificate provider fed from memory: {@link update} pushes a renewed certificate to
 * every server and channel built on it, so rotation needs no restart.
 */
export class IdentityProvider implements CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private identity: TlsIdentity) {}

  update(identity: TlsIdentity): void {
    this.identity = identity;
    for (const listener of this.caListeners) listener({ caCertificate: Buffer.from(identity.caPem) });
    for (const listener of this.identityListeners) {
      listener({ certificate: Buffer.from(identity.certPem), privateKey: Buffer.from(identity.keyPem) });
    }
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(listener, { caCertificate: Buffer.from(this.identity.caPem) });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(listener, {
      certificate: Buffer.from(this.identity.certPem),
      privateKey: Buffer.from(this.identity.keyPem),
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
