import { Metadata, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { CrankError, type Capability } from '@crank/capabilities';
import type { ControllerClient, Job, ListJobsResponse, WatchJobsRequest } from '@crank/proto';
import { errorFromServiceError } from './grpc-error.js';
import { jobEventFromWire, jobInfoFromWire, type JobEventInfo, type JobInfo } from './job-info.js';
import {
  compileListRequest,
  compileSubmitRequest,
  type JobCallOptions,
  type JobsPage,
  type ListAllJobsFilter,
  type ListJobsFilter,
  type SubmitJobOptions,
} from './job-options.js';
import {
  compileWatchRetry,
  watchJobEvents,
  type WatchJobsFilter,
  type WatchJobsOptions,
} from './job-watch.js';
import { waitForJob, type WaitJobOptions } from './job-wait.js';

/**
 * Jobs: capability calls the controller queues, retries and keeps, for work that outlives a call.
 * Reached as `client.jobs`; every failure is a CrankError with the contract code.
 *
 * @example
 * ```ts
 * const job = await client.jobs.submit(DEBUG_ECHO, { message: 'hi' }, { priority: 8 });
 * const done = await client.jobs.wait(job, { onProgress: (j) => console.log(j.progress) });
 * if (done.state === 'completed') console.log(done.output?.message);
 * ```
 */
export class JobsClient {
  /** Does no I/O; `grpc` is the controller client it calls through. */
  constructor(private readonly grpc: ControllerClient) {}

  /**
   * Queues a job calling `capability` with `input`. Given a `Capability`, input and output are
   * typed by it and the job asks for `^<its version>` unless `options.version` says otherwise.
   *
   * @throws CrankError INVALID_INPUT for an option out of range, or the controller's (NOT_FOUND
   *   for a capability it does not know, ...)
   */
  submit<I, O>(
    capability: Capability<I, O>,
    input: I | Uint8Array,
    options?: SubmitJobOptions,
  ): Promise<JobInfo<O>>;
  submit<O = unknown>(capability: string, input: unknown, options?: SubmitJobOptions): Promise<JobInfo<O>>;
  async submit(
    capability: string | Capability,
    input: unknown,
    options: SubmitJobOptions = {},
  ): Promise<JobInfo<unknown>> {
    const request = compileSubmitRequest(capability, input, options);
    return jobInfoFromWire(
      await this.unary<Job>((cb) => this.grpc.submitJob(request, new Metadata(), cb), options),
    );
  }

  /**
   * The job `id` with its history.
   *
   * @throws CrankError NOT_FOUND when the controller does not know it
   */
  async get<O = unknown>(id: string, options: JobCallOptions = {}): Promise<JobInfo<O>> {
    return jobInfoFromWire(
      await this.unary<Job>((cb) => this.grpc.getJob({ id }, new Metadata(), cb), options),
    );
  }

  /**
   * Cancels the job `id`: a pending one is `cancelled` at once; a running one comes back with
   * `cancelRequested` and ends `cancelled` shortly.
   *
   * @throws CrankError NOT_FOUND when the controller does not know it
   */
  async cancel<O = unknown>(id: string, options: JobCallOptions = {}): Promise<JobInfo<O>> {
    return jobInfoFromWire(
      await this.unary<Job>((cb) => this.grpc.cancelJob({ id }, new Metadata(), cb), options),
    );
  }

  /**
   * Runs a `failed` or `dead_letter` job again: it goes back to `pending`.
   *
   * @throws CrankError FAILED_PRECONDITION when the job is in another state; NOT_FOUND
   */
  async retry<O = unknown>(id: string, options: JobCallOptions = {}): Promise<JobInfo<O>> {
    return jobInfoFromWire(
      await this.unary<Job>((cb) => this.grpc.retryJob({ id }, new Metadata(), cb), options),
    );
  }

  /**
   * One page of the jobs `filter` selects; pass `nextCursor` as `cursor` for the next one.
   *
   * @throws CrankError INVALID_INPUT naming a filter field out of range
   */
  async list<O = unknown>(filter: ListJobsFilter = {}, options: JobCallOptions = {}): Promise<JobsPage<O>> {
    const request = compileListRequest(filter);
    const res = await this.unary<ListJobsResponse>(
      (cb) => this.grpc.listJobs(request, new Metadata(), cb),
      options,
    );
    return {
      jobs: res.jobs.map((job) => jobInfoFromWire<O>(job)),
      ...(res.nextPageToken ? { nextCursor: res.nextPageToken } : {}),
    };
  }

  /** Every job `filter` selects, page after page, fetching the next page as the loop gets to it. */
  async *listAll<O = unknown>(
    filter: ListAllJobsFilter = {},
    options: JobCallOptions = {},
  ): AsyncGenerator<JobInfo<O>> {
    const { pageSize, ...rest } = filter;
    let cursor: string | undefined;
    do {
      const page: JobsPage<O> = await this.list<O>(
        { ...rest, ...(pageSize !== undefined ? { limit: pageSize } : {}), ...(cursor ? { cursor } : {}) },
        options,
      );
      yield* page.jobs;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /**
   * Events of the jobs `filter` selects, live, without end: a lost stream is reopened after the
   * last event seen (see {@link WatchJobsOptions} for the delays). The loop ends quietly when
   * `options.signal` aborts; leaving it cancels the stream.
   *
   * @throws CrankError (from the loop) for a refused watch (PERMISSION_DENIED, INVALID_INPUT, ...)
   */
  watch<O = unknown>(
    filter: WatchJobsFilter = {},
    options: WatchJobsOptions = {},
  ): AsyncIterable<JobEventInfo<O>> {
    const retry = compileWatchRetry(options);
    const open = (request: WatchJobsRequest) => this.grpc.watchJobs(request, new Metadata());
    async function* events(): AsyncGenerator<JobEventInfo<O>> {
      for await (const event of watchJobEvents(open, filter, retry, options.signal))
        yield jobEventFromWire<O>(event);
    }
    return events();
  }

  /**
   * Waits for the job to end (completed, failed, cancelled or dead_letter) and resolves with it,
   * whatever the end: look at `state`. Reads the job once, then follows its events from the last
   * one in its history, so no event between the two is missed; the job is read again whenever
   * the watch stays quiet for `pollIntervalMs`, so a lost stream cannot keep it waiting.
   *
   * @throws CrankError CANCELLED when `signal` aborts, DEADLINE_EXCEEDED past `timeoutMs`,
   *   NOT_FOUND for an unknown job, or the watch's error
   */
  wait<O = unknown>(job: string | JobInfo<O>, options: WaitJobOptions<O> = {}): Promise<JobInfo<O>> {
    return waitForJob(this, typeof job === 'string' ? job : job.id, options);
  }

  /** One unary call, cancelled when `options.signal` aborts; a failure as its CrankError. */
  private unary<T>(
    start: (cb: (error: ServiceError | null, res: T) => void) => ClientUnaryCall,
    options: JobCallOptions,
  ): Promise<T> {
    const { signal } = options;
    if (signal?.aborted)
      return Promise.reject(new CrankError('CANCELLED', 'the call was cancelled before it started'));
    return new Promise((resolve, reject) => {
      const call = start((error, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(errorFromServiceError(error));
        else resolve(res);
      });
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
