import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { CrankError } from '@crank/capabilities';
import { WatchJobsRequest, type JobEvent } from '@crank/proto';
import { errorFromServiceError } from './grpc-error.js';

/** Which events `jobs.watch` follows; with no field set, every job's. */
export interface WatchJobsFilter {
  /** Only these jobs. */
  ids?: readonly string[];
  /** Only jobs of this capability id. */
  capability?: string;
  /**
   * Replay the events after this one (the last `eventId` seen) before the live ones.
   * @default 0: events from now on
   */
  afterEventId?: number;
}

/** How `jobs.watch` ends and reconnects. */
export interface WatchJobsOptions {
  /** Ends the watch: the loop leaves quietly, the stream is cancelled. */
  signal?: AbortSignal;
  /** First delay before reconnecting after a lost stream; doubles on each further try. @default 250 */
  retryInitialDelayMs?: number;
  /** Longest delay between reconnects. @default 10000 */
  retryMaxDelayMs?: number;
  /**
   * Reconnects in a row, without an event between them, before the watch fails with the last
   * error. @default Infinity: until the signal aborts
   */
  maxRetries?: number;
}

/** {@link WatchJobsOptions} with defaults filled. */
interface WatchRetry {
  initialDelayMs: number;
  maxDelayMs: number;
  maxRetries: number;
}

/** Opens one WatchJobs call. */
export type OpenWatch = (request: WatchJobsRequest) => ClientReadableStream<JobEvent>;

/**
 * Fills the defaults of `options`.
 *
 * @throws CrankError INVALID_INPUT naming the option that is not a positive number
 */
export function compileWatchRetry(options: WatchJobsOptions): WatchRetry {
  const retry = {
    initialDelayMs: options.retryInitialDelayMs ?? 250,
    maxDelayMs: options.retryMaxDelayMs ?? 10_000,
    maxRetries: options.maxRetries ?? Number.POSITIVE_INFINITY,
  };
  for (const [field, value] of Object.entries(retry)) {
    if (!(value >= 0))
      throw new CrankError('INVALID_INPUT', `${field}: must be a number of at least 0 (got ${value})`);
  }
  return retry;
}

/**
 * The events of `filter`, across as many WatchJobs calls as it takes: a stream lost to a transient
 * error (UNAVAILABLE, RESOURCE_EXHAUSTED, a CANCELLED this side did not ask for) or ended by the
 * controller (a restart) is opened again after a growing, jittered delay, with `after_event_id`
 * set to the last event seen, so that no event is lost or seen twice. (Before the first event,
 * the stream reopens with the filter's own `afterEventId`, which is 0 for live events only.)
 *
 * Ends quietly when `signal` aborts or the caller leaves the loop; the call is cancelled either
 * way. Fails with the CrankError of a non-transient error, or of the last transient one after
 * `maxRetries` reconnects in a row.
 */
export async function* watchJobEvents(
  open: OpenWatch,
  filter: WatchJobsFilter,
  retry: WatchRetry,
  signal?: AbortSignal,
): AsyncGenerator<JobEvent, void, undefined> {
  let afterEventId = filter.afterEventId ?? 0;
  let failures = 0;
  while (!signal?.aborted) {
    const call = open(
      WatchJobsRequest.fromPartial({
        capability: filter.capability ?? '',
        jobIds: [...(filter.ids ?? [])],
        afterEventId,
      }),
    );
    // Keeps a status that arrives after the loop let go of the call from being an unhandled
    // 'error' event; the iterator below sees the same error.
    call.on('error', () => undefined);
    const cancel = (): void => call.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    let lost: CrankError;
    try {
      for await (const event of call as AsyncIterable<JobEvent>) {
        if (signal?.aborted) return;
        failures = 0;
        afterEventId = Math.max(afterEventId, event.eventId);
        yield event;
      }
      lost = new CrankError('UNAVAILABLE', 'watch: the controller ended the stream');
    } catch (error) {
      if (signal?.aborted) return;
      lost = isServiceError(error) ? errorFromServiceError(error) : asCrankError(error);
      if (!isTransient(lost)) throw lost;
    } finally {
      signal?.removeEventListener('abort', cancel);
      call.cancel();
    }
    failures += 1;
    if (failures > retry.maxRetries) throw lost;
    try {
      await sleep(delayMs(failures, retry), undefined, signal ? { signal } : {});
    } catch {
      return; // the signal aborted while waiting
    }
  }
}

/** Errors after which the same watch may work again. */
function isTransient(error: CrankError): boolean {
  return error.retryable || error.code === 'CANCELLED';
}

/** Half to all of `initialDelayMs * 2^(failures - 1)`, at most `maxDelayMs`. */
function delayMs(failures: number, retry: WatchRetry): number {
  const full = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (failures - 1));
  return full / 2 + Math.random() * (full / 2);
}

function isServiceError(error: unknown): error is ServiceError {
  return (
    error instanceof Error && typeof (error as Partial<ServiceError>).code === 'number' && 'metadata' in error
  );
}

function asCrankError(error: unknown): CrankError {
  if (error instanceof CrankError) return error;
  return new CrankError('INTERNAL', `watch: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}
