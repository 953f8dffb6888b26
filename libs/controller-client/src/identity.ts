import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { credentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { WIRE_LIMITS } from '@crank/proto';

/** The name in the controller's certificate that clients verify, whatever address they dial. */
export const CONTROLLER_NAME = 'crank-controller';

/** A certificate, its key, and the CA that signed it: what a party needs to speak mTLS. */
export interface TlsIdentity {
  /** Certificate CN: a worker id or a caller name. */
  identity: string;
  keyPem: string;
  certPem: string;
  caPem: string;
  notAfter: Date;
}

/** Channel options every connection to the controller uses. */
export function controllerChannelOptions(): ChannelOptions {
  return {
    'grpc.ssl_target_name_override': CONTROLLER_NAME,
    'grpc.default_authority': CONTROLLER_NAME,
    'grpc.max_receive_message_length': WIRE_LIMITS.maxMessageBytes,
    'grpc.max_send_message_length': WIRE_LIMITS.maxMessageBytes,
    'grpc-node.flow_control_window': WIRE_LIMITS.streamWindowBytes,
    'grpc.keepalive_time_ms': 30_000,
  };
}

/** mTLS credentials for an identity (omit it for enrollment, which sends no client certificate). */
export function channelCredentials(
  caPem: string,
  identity?: Pick<TlsIdentity, 'keyPem' | 'certPem'>,
): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(caPem),
    identity ? Buffer.from(identity.keyPem) : null,
    identity ? Buffer.from(identity.certPem) : null,
  );
}

/** Where a process on this machine finds the controller, its CA and the bootstrap token. */
export interface ControllerLocation {
  /** `host:port` of the controller's gRPC server (`CRANK_CONTROLLER_URL`). @default '127.0.0.1:8443' */
  address: string;
  /** The controller's data dir (`CRANK_DATA_DIR`). @default './.crank' */
  dataDir: string;
  /** CA certificate file (`CRANK_CA_FILE`). @default `${dataDir}/ca.crt` */
  caFile: string;
  /** The bootstrap token (`CRANK_BOOTSTRAP_TOKEN`), else read from `${dataDir}/bootstrap-token`. */
  bootstrapToken?: string;
}

/** Fills a {@link ControllerLocation} from explicit values, then `CRANK_*` env, then defaults. */
export function controllerLocation(
  init: Partial<ControllerLocation> = {},
  env: NodeJS.ProcessEnv = process.env,
): ControllerLocation {
  const dataDir = resolve(init.dataDir ?? env['CRANK_DATA_DIR'] ?? '.crank');
  const address = (init.address ?? env['CRANK_CONTROLLER_URL'] ?? '127.0.0.1:8443').replace(
    /^[a-z]+:\/\//,
    '',
  );
  // Trimmed like the token file: a Secret made --from-file carries a trailing newline.
  const token = (init.bootstrapToken ?? env['CRANK_BOOTSTRAP_TOKEN'])?.trim();
  return {
    address,
    dataDir,
    caFile: init.caFile ?? env['CRANK_CA_FILE'] ?? join(dataDir, 'ca.crt'),
    ...(token ? { bootstrapToken: token } : {}),
  };
}

/**
 * Reads the CA certificate named by a location.
 * @throws Error with code ENOENT and a message that says what to do, when the file is missing
 */
export async function readCaCertificate(location: ControllerLocation): Promise<string> {
  try {
    return await readFile(location.caFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw Object.assign(
      new Error(
        `no CA certificate at ${location.caFile}: start the controller first (npm start), ` +
          'or point CRANK_DATA_DIR or CRANK_CA_FILE at its data',
      ),
      { code: 'ENOENT' },
    );
  }
}

/** Reads the CA certificate and the bootstrap token named by a location. */
export async function readTrust(
  location: ControllerLocation,
): Promise<{ caPem: string; bootstrapToken: string }> {
  const caPem = await readCaCertificate(location);
  let bootstrapToken = location.bootstrapToken;
  if (bootstrapToken === undefined) {
    const tokenFile = join(location.dataDir, 'bootstrap-token');
    try {
      bootstrapToken = (await readFile(tokenFile, 'utf8')).trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      throw Object.assign(new Error(`no bootstrap token at ${tokenFile}: set CRANK_BOOTSTRAP_TOKEN`), {
        code: 'ENOENT',
      });
    }
  }
  return { caPem, bootstrapToken };
}
