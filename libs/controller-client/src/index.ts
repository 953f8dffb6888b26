/**
 * Typed client and CLI (`crank`) for calling capabilities through a Crank controller.
 *
 * @example
 * ```ts
 * import { connectClient } from '@crank/controller-client';
 *
 * const client = await connectClient({ name: 'billing' }); // enrolls once with the bootstrap token
 * const { output, workerId } = await client.invoke('debug.echo', { message: 'hi' }, { version: '^1' });
 * for await (const window of client.invokeStream('stream.aggregate', events)) console.log(window);
 * client.close();
 * ```
 */
export { CrankClient, fromPayload, toPayload } from './crank-client.js';
export type {
  CallOptions,
  CapabilityInfo,
  InvocationStream,
  InvokeResult,
  WorkerInfo,
} from './crank-client.js';
export { callerIdentity, connectClient } from './connect.js';
export type { ConnectOptions } from './connect.js';
export { enroll, isTransient } from './enroll.js';
export type { EnrollOptions } from './enroll.js';
export { certificateNotAfter, createKeyAndCsr } from './csr.js';
export type { KeyAndCsr } from './csr.js';
export { errorFromServiceError } from './grpc-error.js';
export {
  CONTROLLER_NAME,
  channelCredentials,
  controllerChannelOptions,
  controllerLocation,
  readCaCertificate,
  readTrust,
} from './identity.js';
export type { ControllerLocation, TlsIdentity } from './identity.js';
