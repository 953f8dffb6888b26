import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { CrankError } from '@crank/capabilities';
import {
  JobEvent,
  JobStatus,
  type CancelJobRequest,
  type ControllerServer,
  type GetJobRequest,
  type Job,
  type ListJobsRequest,
  type ListJobsResponse,
  type PeerDirectory,
  type ReportProgressRequest,
  type ReportProgressResponse,
  type RetryJobRequest,
  type SubmitJobRequest,
  type WatchJobsRequest,
} from '@crank/proto';
import type { Logger } from 'pino';
import type { JobService } from '../jobs/job-service.js';
import { jobFilterOf, jobStatusOf, jobToWire } from '../jobs/job-wire.js';
import { asCrankError, toGrpcStatus } from './grpc-errors.js';
import { requirePeer } from './peer-identity.js';

type JobHandlers = Pick<
  ControllerServer,
  'submitJob' | 'getJob' | 'cancelJob' | 'retryJob' | 'listJobs' | 'watchJobs' | 'reportProgress'
>;

/**
 * The job calls of `crank.v1.Controller`. Any holder of a certificate from the CA may submit and
 * read jobs (callers, and workers through `ctx.client`); only a worker reports progress, and only
 * for an attempt running on itself.
 */
export function createJobHandlers(deps: {
  jobs: JobService;
  peers: PeerDirectory;
  logger: Logger;
}): JobHandlers {
  const { jobs, peers, logger } = deps;
  const unary =
    <Req, Res>(fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      fn(call).then(
        (response) => callback(null, response),
        (error: unknown) => {
          const crank = asCrankError(error);
          if (crank.code === 'INTERNAL')
            logger.error({ event: 'rpc_failed', err: error, path: call.getPath() }, 'rpc failed');
          callback(toGrpcStatus(crank), null);
        },
      );
    };

  return {
    submitJob: unary<SubmitJobRequest, Job>(async (call) => {
      const peer = requirePeer(peers, call);
      const r = call.request;
      const { job } = await jobs.submit(
        {
          capability: r.capability,
          range: r.version,
          input: {
            contentType: r.input?.contentType || 'application/json',
            data: Buffer.from(r.input?.data ?? Buffer.alloc(0)),
          },
          priority: r.priority,
          maxAttempts: r.maxAttempts,
          timeoutMs: r.timeoutMs,
          backoffMs: r.backoffMs,
          runAt: r.runAtUnixMs,
          idempotencyKey: r.idempotencyKey,
        },
        peer.id,
      );
      return jobToWire(job);
    }),
    getJob: unary<GetJobRequest, Job>(async (call) => {
      requirePeer(peers, call);
      const { job, timeline } = await jobs.get(call.request.id);
      return jobToWire(job, timeline);
    }),
    cancelJob: unary<CancelJobRequest, Job>(async (call) => {
      requirePeer(peers, call);
      return jobToWire(await jobs.cancel(call.request.id));
    }),
    retryJob: unary<RetryJobRequest, Job>(async (call) => {
      requirePeer(peers, call);
      return jobToWire(await jobs.retry(call.request.id));
    }),
    listJobs: unary<ListJobsRequest, ListJobsResponse>(async (call) => {
      requirePeer(peers, call);
      const page = await jobs.list(jobFilterOf(call.request));
      return { jobs: page.jobs.map((job) => jobToWire(job)), nextPageToken: page.nextCursor ?? '' };
    }),
    reportProgress: unary<ReportProgressRequest, ReportProgressResponse>(async (call) => {
      const peer = requirePeer(peers, call);
      if (peer.kind !== 'worker') {
        throw new CrankError('PERMISSION_DENIED', 'only the worker running a job reports its progress');
      }
      const r = call.request;
      await jobs.progress(r.jobId, peer.id, r.fraction, r.message);
      return {};
    }),
    watchJobs: (call: ServerWritableStream<WatchJobsRequest, JobEvent>) => {
      try {
        requirePeer(peers, call);
      } catch (error) {
        call.emit('error', toGrpcStatus(error));
        return;
      }
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      const r = call.request;
      void (async () => {
        const events = jobs.watch(
          {
            ...(r.capability ? { capability: r.capability } : {}),
            ...(r.jobIds.length > 0 ? { ids: r.jobIds } : {}),
            ...(r.afterEventId ? { afterEventId: r.afterEventId } : {}),
          },
          abort.signal,
        );
        for await (const { event, job } of events) {
          const frame = JobEvent.fromPartial({
            job: jobToWire(job),
            previousStatus: event.from ? jobStatusOf(event.from) : JobStatus.JOB_STATUS_UNSPECIFIED,
            atUnixMs: event.at,
            eventId: event.id,
            kind: event.kind,
          });
          if (!call.write(frame)) await new Promise<void>((resolve) => call.once('drain', resolve));
        }
      })().catch((error: unknown) => {
        if (!abort.signal.aborted) call.emit('error', toGrpcStatus(error));
      });
    },
  };
}
