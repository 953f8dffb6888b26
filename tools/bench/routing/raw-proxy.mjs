// Baseline (c) of the routing benchmark: a bare grpc-js proxy over mTLS that forwards
// crank.v1.Worker/Execute to the raw echo server and relays the answer. It does nothing Crank
// does (no validation, routing, metrics): the cost of the extra hop alone.
import { Metadata, Server, ServerCredentials } from '@grpc/grpc-js';
import { channelCredentials, controllerLocation, enroll, readTrust } from '@crank/controller-client';
import { WorkerClient, WorkerService } from '@crank/proto';

const target = process.env.CRANK_BENCH_PROXY_TARGET;
const location = controllerLocation();
const trust = await readTrust(location);
const identity = await enroll({
  address: location.address,
  caPem: trust.caPem,
  bootstrapToken: trust.bootstrapToken,
  identity: 'raw-proxy',
  kind: 'worker',
});
const upstream = new WorkerClient(target, channelCredentials(identity.caPem, identity), {
  'grpc.ssl_target_name_override': 'raw-echo',
  'grpc.default_authority': 'raw-echo',
});
const server = new Server();
server.addService(WorkerService, {
  execute: (call, callback) =>
    upstream.execute(call.request, new Metadata(), (error, response) => callback(error, response)),
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
process.on('SIGTERM', () => {
  upstream.close();
  server.forceShutdown();
});
