import {
  credentials,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  ControllerClient,
  ControllerService,
  ErrorInfo,
  Job,
  JobEvent,
  JobStatus,
  JobTransition,
  Payload,
  type ControllerServer,
  type ListJobsRequest,
  type ListJobsResponse,
  type SubmitJobRequest,
  type WatchJobsRequest,
} from '@crank/proto';
import { CrankClient } from '../src/crank-client.js';
import { jobStateOf, jobStatusOf, type JobState } from '../src/job-info.js';

type WatchCall = ServerWritableStream<WatchJobsRequest, JobEvent>;

/** The job calls the fake serves. */
type JobRpc = 'submitJob' | 'getJob' | 'cancelJob' | 'retryJob' | 'listJobs' | 'watchJobs';

/** One WatchJobs call the fake served. */
export interface WatchEntry {
  request: WatchJobsRequest;
  call: WatchCall;
  /** Whether the client cancelled it. */
  cancelled: boolean;
  /** Whether it ended (an error sent by the test, or the client's cancel). */
  ended: boolean;
}

/** A failure the next call of an RPC answers. */
interface Failure {
  code: status;
  details: string;
}

/**
 * A controller on a real plaintext socket that keeps jobs in memory, the way the real one does:
 * every change is an event with an increasing id, appended to the job's history and sent to the
 * open watches it matches; a watch with `after_event_id` first replays the events after it.
 * Tests drive the jobs with {@link transition} and {@link progress}, and read what the client sent
 * from the request lists.
 */
export class FakeJobController {
  readonly jobs = new Map<string, Job>();
  readonly submits: SubmitJobRequest[] = [];
  readonly lists: ListJobsRequest[] = [];
  readonly gets: string[] = [];
  readonly watches: WatchEntry[] = [];
  /** Answers ListJobs; by default every job on one page. */
  onList: (request: ListJobsRequest) => ListJobsResponse = () => ({
    jobs: [...this.jobs.values()],
    nextPageToken: '',
  });
  /** When false, events are kept but not sent to open watches (as if the stream were lost quietly). */
  deliver = true;
  private readonly log: JobEvent[] = [];
  private readonly failures = new Map<string, Failure>();
  private nextEventId = 100;
  private nextJobId = 1;

  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {}

  static async start(): Promise<FakeJobController> {
    const server = new Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const fake = new FakeJobController(server, `127.0.0.1:${port}`);
    server.addService(ControllerService, fake.handlers() as UntypedServiceImplementation);
    return fake;
  }

  /** A real CrankClient over plaintext to this fake; the caller closes it. */
  client(): CrankClient {
    return PlaintextClient.over(this.address);
  }

  /** Makes the next call of `rpc` (e.g. 'getJob') fail with `code`. */
  failNext(rpc: JobRpc, code: status, details: string): void {
    this.failures.set(rpc, { code, details });
  }

  /** Adds a job as it stands, with a creation event. */
  put(fields: Partial<Job> & { id?: string }): Job {
    const now = Date.now();
    const job = Job.fromPartial({
      capability: 'debug.echo',
      status: JobStatus.JOB_STATUS_PENDING,
      priority: 5,
      maxAttempts: 3,
      timeoutMs: 300_000,
      backoffMs: 1_000,
      createdAtUnixMs: now,
      updatedAtUnixMs: now,
      caller: 'cli-test',
      ...fields,
      id: fields.id ?? `job-${this.nextJobId++}`,
    });
    this.jobs.set(job.id, job);
    this.record(job, 'state', JobStatus.JOB_STATUS_UNSPECIFIED, {});
    return job;
  }

  /** Moves a job to `to`; `fields` change the job too (output, error, ...). */
  transition(id: string, to: JobState, fields: Partial<Job> = {}): JobEvent {
    const job = this.must(id);
    const from = job.status;
    Object.assign(job, fields, { status: jobStatusOf(to), updatedAtUnixMs: Date.now() });
    if (to === 'assigned') job.attempts += 1;
    return this.record(job, 'state', from, {
      attempt: job.attempts,
      workerId: job.workerId,
      errorCode: job.error?.code ?? '',
      errorMessage: job.error?.message ?? '',
    });
  }

  /** A progress report of the running attempt. */
  progress(id: string, fraction: number, message: string): JobEvent {
    const job = this.must(id);
    Object.assign(job, { progress: fraction, progressMessage: message, updatedAtUnixMs: Date.now() });
    return this.record(job, 'progress', job.status, { progress: fraction, message, attempt: job.attempts });
  }

  /** Ends an open watch with a gRPC error, as a lost connection or a restart would. */
  breakWatch(index: number, code = status.UNAVAILABLE, details = 'connection reset'): void {
    const entry = this.watches[index];
    if (!entry) throw new Error(`no watch #${index}`);
    entry.ended = true;
    entry.call.emit('error', { code, details });
  }

  /** The watches still open. */
  openWatches(): WatchEntry[] {
    return this.watches.filter((w) => !w.ended);
  }

  close(): void {
    this.server.forceShutdown();
  }

  private handlers(): Partial<ControllerServer> {
    const unary =
      <Req, Res>(rpc: JobRpc, answer: (request: Req) => Res) =>
      (call: ServerUnaryCall<Req, Res>, done: sendUnaryData<Res>): void => {
        const failure = this.failures.get(rpc);
        if (failure) {
          this.failures.delete(rpc);
          done(failure, null);
          return;
        }
        try {
          done(null, answer(call.request));
        } catch (error) {
          done(error as Failure, null);
        }
      };
    return {
      submitJob: unary('submitJob', (request: SubmitJobRequest) => {
        this.submits.push(request);
        const same = [...this.jobs.values()].find(
          (job) => request.idempotencyKey !== '' && job.idempotencyKey === request.idempotencyKey,
        );
        if (same) return this.strip(same);
        return this.strip(
          this.put({
            capability: request.capability,
            versionRange: request.version,
            priority: request.priority,
            maxAttempts: request.maxAttempts || 3,
            timeoutMs: request.timeoutMs || 300_000,
            backoffMs: request.backoffMs || 1_000,
            idempotencyKey: request.idempotencyKey,
            nextAttemptAtUnixMs: request.runAtUnixMs,
            input: request.input ?? Payload.fromPartial({}),
          }),
        );
      }),
      getJob: unary('getJob', ({ id }: { id: string }) => {
        this.gets.push(id);
        return Job.fromPartial(this.must(id));
      }),
      cancelJob: unary('cancelJob', ({ id }: { id: string }) => {
        const job = this.must(id);
        if (job.status === JobStatus.JOB_STATUS_PENDING) this.transition(id, 'cancelled');
        else if (!isEnded(job)) Object.assign(job, { cancelRequested: true });
        return this.strip(job);
      }),
      retryJob: unary('retryJob', ({ id }: { id: string }) => {
        const job = this.must(id);
        if (job.status !== JobStatus.JOB_STATUS_FAILED && job.status !== JobStatus.JOB_STATUS_DEAD_LETTER)
          throw { code: status.FAILED_PRECONDITION, details: `job ${id} is ${jobStateOf(job.status)}` };
        this.transition(id, 'pending', { attempts: 0, error: undefined });
        return this.strip(job);
      }),
      listJobs: unary('listJobs', (request: ListJobsRequest) => {
        this.lists.push(request);
        const res = this.onList(request);
        return { ...res, jobs: res.jobs.map((job) => this.strip(job)) };
      }),
      watchJobs: (call: WatchCall) => {
        const entry: WatchEntry = { request: call.request, call, cancelled: false, ended: false };
        this.watches.push(entry);
        call.on('cancelled', () => {
          entry.cancelled = true;
          entry.ended = true;
        });
        const failure = this.failures.get('watchJobs');
        if (failure) {
          this.failures.delete('watchJobs');
          entry.ended = true;
          call.emit('error', failure);
          return;
        }
        const after = call.request.afterEventId;
        if (after > 0) {
          for (const event of this.log) if (event.eventId > after && matches(entry, event)) call.write(event);
        }
      },
    };
  }

  private record(job: Job, kind: string, from: JobStatus, fields: Partial<JobTransition>): JobEvent {
    const eventId = this.nextEventId++;
    const at = Date.now();
    job.history.push(
      JobTransition.fromPartial({ eventId, atUnixMs: at, kind, from, to: job.status, ...fields }),
    );
    const event = JobEvent.fromPartial({
      job: this.strip(job),
      previousStatus: from,
      atUnixMs: at,
      eventId,
      kind,
    });
    this.log.push(event);
    if (this.deliver) {
      for (const entry of this.openWatches()) if (matches(entry, event)) entry.call.write(event);
    }
    return event;
  }

  /** The job without its history, as every call but GetJob sends it. */
  private strip(job: Job): Job {
    return Job.fromPartial({ ...job, history: [] });
  }

  private must(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw { code: status.NOT_FOUND, details: `no job "${id}"` };
    return job;
  }
}

/** A CrankClient over plaintext, so that the fake needs no certificates. */
class PlaintextClient extends CrankClient {
  static over(address: string): CrankClient {
    return new PlaintextClient(new ControllerClient(address, credentials.createInsecure()));
  }
}

function matches(entry: WatchEntry, event: JobEvent): boolean {
  const { jobIds, capability } = entry.request;
  if (jobIds.length > 0 && !jobIds.includes(event.job?.id ?? '')) return false;
  return capability === '' || capability === event.job?.capability;
}

function isEnded(job: Job): boolean {
  return [
    JobStatus.JOB_STATUS_COMPLETED,
    JobStatus.JOB_STATUS_FAILED,
    JobStatus.JOB_STATUS_CANCELLED,
    JobStatus.JOB_STATUS_DEAD_LETTER,
  ].includes(job.status);
}

/** A JSON output payload. */
export function jsonPayload(value: unknown): Payload {
  return Payload.fromPartial({ contentType: 'application/json', data: Buffer.from(JSON.stringify(value)) });
}

/** An ErrorInfo as a failed attempt leaves it. */
export function errorInfo(code: string, message: string, details: Record<string, unknown> = {}): ErrorInfo {
  return ErrorInfo.fromPartial({ code, message, detailsJson: JSON.stringify(details), retryable: false });
}

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
