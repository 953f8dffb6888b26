// Shared by the benchmark's bare baselines: enroll a worker identity with the controller's CA and
// serve crank.v1.Worker with plain grpc-js over the same mTLS a worker uses, printing the port.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { controllerLocation, enroll, readTrust } from '@crank/controller-client';
import { tuneHeapForRequests } from '@crank/proto';
import { baselineWorker } from './baseline-codec.mjs';

// --tune-baselines: the bare processes get the garbage-collector tuning the controller and the
// worker runtime give themselves, and their message encoding, for a like-for-like comparison.
const tuned = process.env.CRANK_BENCH_TUNED === '1';
if (tuned) tuneHeapForRequests();
export const { service: BaselineWorkerService, Client: BaselineWorkerClient } = baselineWorker(tuned);

/** Enrolls `identity` and returns it (key, certificate, CA). */
export async function enrollBare(identity) {
  const location = controllerLocation();
  const trust = await readTrust(location);
  return enroll({
    address: location.address,
    caPem: trust.caPem,
    bootstrapToken: trust.bootstrapToken,
    identity,
    kind: 'worker',
  });
}

/**
 * Serves `execute` and `executeStream` as crank.v1.Worker with `tls`; logs
 * `{ event: 'listening', port }`.
 */
export function serveBare(tls, handlers, onStop = () => undefined) {
  const server = new Server();
  server.addService(BaselineWorkerService, handlers);
  const credentials = ServerCredentials.createSsl(
    Buffer.from(tls.caPem),
    [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }],
    true,
  );
  server.bindAsync('127.0.0.1:0', credentials, (error, port) => {
    if (error) throw error;
    process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
  });
  process.on('SIGTERM', () => {
    onStop();
    server.forceShutdown();
  });
}
