// What the bare baselines speak crank.v1.Worker with. Plain: ts-proto's own serializers
// (`Buffer.from(T.encode(value).finish())`), as grpc-js code generated without Crank has.
// @crank/proto's definitions encode through its encodeMessage instead, which is Crank's work; with
// --tune-baselines the baselines take those too, like for like.
import { makeGenericClientConstructor } from '@grpc/grpc-js';
import { ExecuteRequest, ExecuteResponse, StreamFrame, WorkerService } from '@crank/proto';

const plain = (type) => (value) => Buffer.from(type.encode(value).finish());

/** The Worker service definition and client class the baselines use. */
export function baselineWorker(tuned) {
  const service = tuned
    ? WorkerService
    : {
        execute: {
          ...WorkerService.execute,
          requestSerialize: plain(ExecuteRequest),
          responseSerialize: plain(ExecuteResponse),
        },
        executeStream: {
          ...WorkerService.executeStream,
          requestSerialize: plain(StreamFrame),
          responseSerialize: plain(StreamFrame),
        },
      };
  return { service, Client: makeGenericClientConstructor(service, 'crank.v1.Worker') };
}
