// Baseline (a) of the routing benchmark: a bare grpc-js server speaking crank.v1.Worker/Execute over
// the same mTLS as a worker, answering with its input. No runtime, no validation, no controller.
import { enrollBare, serveBare } from './bare-server.mjs';

const identity = await enrollBare('raw-echo');
serveBare(identity, (call, callback) => callback(null, { output: call.request.input }));
