import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ControllerClient, EnrollRequest, IdentityKind } from '@crank/proto';
import { certificateNotAfter, createKeyAndCsr } from './csr.js';
import { errorFromServiceError } from './grpc-error.js';
import { channelCredentials, controllerChannelOptions, type TlsIdentity } from './identity.js';

export interface EnrollOptions {
  /** `host:port` of the controller. */
  address: string;
  /** The CA that must have signed the controller's certificate. */
  caPem: string;
  /** Identity asked for: a lowercase DNS label. */
  identity: string;
  kind: 'worker' | 'caller';
  /** Bootstrap token; not needed when `current` is given (renewal). */
  bootstrapToken?: string;
  /** The identity being renewed: its certificate authenticates the request instead of the token. */
  current?: TlsIdentity;
  /** @default 10000 */
  timeoutMs?: number;
}

/**
 * Gets a certificate from the controller: generates a key in this process, sends a CSR with the
 * bootstrap token (or, to renew, over mTLS with the current certificate), and returns the new
 * identity. The private key never leaves the process.
 *
 * @throws CrankError UNAUTHENTICATED on a wrong token, UNAVAILABLE when the controller is down.
 */
export async function enroll(options: EnrollOptions): Promise<TlsIdentity> {
  const { keyPem, csrPem } = await createKeyAndCsr(options.identity);
  const client = new ControllerClient(
    options.address,
    channelCredentials(options.caPem, options.current),
    controllerChannelOptions(),
  );
  try {
    const response = await new Promise<{ certificatePem: string; caPem: string; identity: string }>(
      (resolve, reject) => {
        client.enroll(
          EnrollRequest.fromPartial({
            csrPem,
            bootstrapToken: options.bootstrapToken ?? '',
            kind:
              options.kind === 'caller'
                ? IdentityKind.IDENTITY_KIND_CALLER
                : IdentityKind.IDENTITY_KIND_WORKER,
          }),
          new Metadata(),
          { deadline: Date.now() + (options.timeoutMs ?? 10_000) },
          (error: ServiceError | null, res) => (error ? reject(errorFromServiceError(error)) : resolve(res)),
        );
      },
    );
    return {
      identity: response.identity,
      keyPem,
      certPem: response.certificatePem,
      caPem: response.caPem || options.caPem,
      notAfter: certificateNotAfter(response.certificatePem),
    };
  } finally {
    client.close();
  }
}

/** Whether an enrollment failure may succeed on a later try (controller down or starting). */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === 'UNAVAILABLE' || code === 'DEADLINE_EXCEEDED' || code === status.UNAVAILABLE;
}
