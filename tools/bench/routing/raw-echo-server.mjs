// Baseline (a) of the routing benchmark: a bare grpc-js server speaking crank.v1.Worker over the
// same mTLS as a worker, answering a call with its input and each frame of a stream with itself.
// No runtime, no validation, no controller.
import { enrollBare, serveBare } from './bare-server.mjs';

const identity = await enrollBare('raw-echo');
serveBare(identity, {
  execute: (call, callback) => callback(null, { output: call.request.input }),
  // Object-mode pipe: back-pressure both ways, as a relay of records needs.
  executeStream: (call) => call.pipe(call),
});
