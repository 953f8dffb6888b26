// Baseline (a) of the routing benchmark: a bare grpc-js server speaking crank.v1.Worker/Execute over
// the same mTLS as a worker, answering with its input. No runtime, no validation, no controller.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { controllerLocation, enroll, readTrust } from '@crank/controller-client';
import { WorkerService } from '@crank/proto';

const location = controllerLocation();
const trust = await readTrust(location);
const identity = await enroll({
  address: location.address,
  caPem: trust.caPem,
  bootstrapToken: trust.bootstrapToken,
  identity: 'raw-echo',
  kind: 'worker',
});
const server = new Server();
server.addService(WorkerService, {
  execute: (call, callback) => callback(null, { output: call.request.input }),
  executeStream: (call) => call.end(),
});
const credentials = ServerCredentials.createSsl(
  Buffer.from(identity.caPem),
  [{ private_key: Buffer.from(identity.keyPem), cert_chain: Buffer.from(identity.certPem) }],
  true,
);
server.bindAsync('127.0.0.1:0', credentials, (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ event: 'listening', port })}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
