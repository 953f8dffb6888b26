/**
 * Typed client and CLI (`crank`) for calling capabilities through a Crank controller.
 *
 * @example
 * ```ts
 * import { DEBUG_ECHO, STREAM_AGGREGATE } from '@crank/capabilities';
 * import { connectClient } from '@crank/controller-client';
 *
 * // Enrolls once with the bootstrap token; keeps the key under ~/.config/crank (CRANK_HOME).
 * const client = await connectClient({ name: 'billing' });
 * const { output, workerId } = await client.invoke('debug.echo', { message: 'hi' }, { version: '^1' });
 * const typed = await client.invoke(DEBUG_ECHO, { message: 'hi' }); // typed output, asks for ^1.0.0
 * const stream = client.invokeStream(STREAM_AGGREGATE, events);
 * console.log(await stream.accepted); // { workerId, version }
 * for await (const window of stream) console.log(window);
 *
 * // Jobs: queued by the controller, retried, kept; followed live or waited for.
 * const job = await client.jobs.submit(DEBUG_ECHO, { message: 'later' }, { priority: 8 });
 * const done = await client.jobs.wait(job, { onProgress: (j) => console.log(j.state, j.progress) });
 * console.log(done.state, done.output, done.error);
 * client.close();
 * ```
 */
export { CrankClient } from './crank-client.js';
export type { CallOptions, CapabilityInfo, InvokeResult, WorkerInfo } from './crank-client.js';
export type { InvocationStream, StreamAcceptance } from './invocation-stream.js';
export { JobsClient } from './jobs-client.js';
export type { WaitJobOptions } from './job-wait.js';
export { JOB_STATES, isTerminalJobState } from './job-info.js';
export type { JobEventInfo, JobEventKind, JobInfo, JobState, JobTransitionInfo } from './job-info.js';
export { JOB_SORTS } from './job-options.js';
export type {
  JobCallOptions,
  JobSort,
  JobsPage,
  ListAllJobsFilter,
  ListJobsFilter,
  SubmitJobOptions,
} from './job-options.js';
export type { WatchJobsFilter, WatchJobsOptions } from './job-watch.js';
export { fromPayload, toPayload } from './payload.js';
export { callerIdentity, connectClient, defaultCallerName } from './connect.js';
export type { CallerIdentityOptions, ConnectOptions } from './connect.js';
export { callerFiles, callerHome, controllerFingerprint } from './caller-store.js';
export type { CallerFiles } from './caller-store.js';
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
/**
 * For a process that makes many calls: tunes V8's garbage collector as the controller and the
 * worker runtime do for themselves (see ARCHITECTURE.md, "What the controller and the runtime
 * change in their process"). Call it once at start, before the first client is made.
 */
export { tuneHeapForRequests } from '@crank/proto';
