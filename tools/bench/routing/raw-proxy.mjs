// Baseline (c) of the routing benchmark: a bare grpc-js proxy over mTLS that forwards
// crank.v1.Worker calls and streams to the raw echo server and relays the answers. It does nothing
// Crank does (no validation, routing, metrics): the cost of the extra hop alone.
import { Metadata } from '@grpc/grpc-js';
import { channelCredentials } from '@crank/controller-client';
import { BaselineWorkerClient, enrollBare, serveBare } from './bare-server.mjs';

const identity = await enrollBare('raw-proxy');
const upstream = new BaselineWorkerClient(
  process.env.CRANK_BENCH_PROXY_TARGET,
  channelCredentials(identity.caPem, identity),
  {
    'grpc.ssl_target_name_override': 'raw-echo',
    'grpc.default_authority': 'raw-echo',
  },
);
serveBare(
  identity,
  {
    execute: (call, callback) =>
      upstream.execute(call.request, new Metadata(), (error, response) => callback(error, response)),
    executeStream: (call) => {
      const relayed = upstream.executeStream(new Metadata());
      call.pipe(relayed);
      relayed.pipe(call);
      relayed.on('error', (error) => call.destroy(error));
      call.on('error', () => relayed.cancel());
    },
  },
  () => upstream.close(),
);
