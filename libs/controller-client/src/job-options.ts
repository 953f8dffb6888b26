import { CrankError, type Capability } from '@crank/capabilities';
import { JobOrder, ListJobsRequest, SubmitJobRequest } from '@crank/proto';
import { JOB_STATES, jobStatusOf, type JobInfo, type JobState } from './job-info.js';
import { toPayload } from './payload.js';

/** Options of `jobs.submit`. Unset limits take the controller's defaults. */
export interface SubmitJobOptions {
  /**
   * Semver range of the capability. @default any version for a capability named by its id;
   * `^<version>` for a `Capability` object
   */
  version?: string;
  /** 0 (lowest) to 10 (highest). @default 5 */
  priority?: number;
  /** Attempts before the job goes to `dead_letter`. @default the controller's, 3 */
  maxAttempts?: number;
  /** Limit of each attempt in ms. @default the controller's, 300000 */
  timeoutMs?: number;
  /** Delay before the first retry in ms; doubles on each further one. @default the controller's, 1000 */
  backoffMs?: number;
  /** Not before this time (a delayed job). @default now */
  runAt?: Date;
  /** A second submit with the same key, by the same caller, returns the first job. */
  idempotencyKey?: string;
  /** Content type of a byte (Buffer, Uint8Array) input. @default 'application/octet-stream' */
  contentType?: string;
  /** Cancels the submit call; a job the controller took already stays. */
  signal?: AbortSignal;
}

/** The order of `jobs.list`. */
export type JobSort = 'created_desc' | 'created_asc' | 'priority_desc';

/** Every {@link JobSort}. */
export const JOB_SORTS: readonly JobSort[] = Object.freeze(['created_desc', 'created_asc', 'priority_desc']);

/** Which jobs `jobs.list` returns; every field narrows, none is required. */
export interface ListJobsFilter {
  /** Jobs in this state or these states. @default any */
  status?: JobState | readonly JobState[];
  /** Jobs of this capability id. */
  capability?: string;
  /** Priority at least this (0 to 10). */
  priorityMin?: number;
  /** Priority at most this (1 to 10: the wire reads 0 as no maximum). */
  priorityMax?: number;
  /** Created at or after. */
  from?: Date;
  /** Created before. */
  to?: Date;
  /** Jobs per page, 1 to 500. @default the controller's, 50 */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
  /** @default 'created_desc' */
  sort?: JobSort;
}

/** Which jobs `jobs.listAll` goes through: {@link ListJobsFilter} with a page size. */
export interface ListAllJobsFilter extends Omit<ListJobsFilter, 'limit' | 'cursor'> {
  /** Jobs fetched per call, 1 to 500. @default the controller's, 50 */
  pageSize?: number;
}

/** One page of `jobs.list`. */
export interface JobsPage<O = unknown> {
  jobs: JobInfo<O>[];
  /** Pass as `cursor` for the next page; absent on the last one. */
  nextCursor?: string;
}

/** Options of the unary job calls. */
export interface JobCallOptions {
  /** Cancels the call. */
  signal?: AbortSignal;
}

const ORDER_OF_SORT: Readonly<Record<JobSort, JobOrder>> = Object.freeze({
  created_desc: JobOrder.JOB_ORDER_CREATED_DESC,
  created_asc: JobOrder.JOB_ORDER_CREATED_ASC,
  priority_desc: JobOrder.JOB_ORDER_PRIORITY_DESC,
});

/** The priority of a job submitted without one. */
export const DEFAULT_JOB_PRIORITY = 5;

/** Most jobs one ListJobs call returns. */
export const MAX_JOBS_PAGE = 500;

/**
 * The SubmitJob request for `input` to `capability` with `options`; 0 leaves a limit to the
 * controller's default.
 *
 * @throws CrankError INVALID_INPUT naming the option and its rule
 */
export function compileSubmitRequest(
  capability: string | Capability,
  input: unknown,
  options: SubmitJobOptions,
): SubmitJobRequest {
  const id = typeof capability === 'string' ? capability : capability.id;
  if (id === '') throw invalid('capability: must name a capability id (got "")');
  return SubmitJobRequest.fromPartial({
    capability: id,
    version: options.version ?? (typeof capability === 'string' ? '' : `^${capability.version}`),
    input: toPayload(input, options.contentType),
    priority: wholeNumber('priority', options.priority ?? DEFAULT_JOB_PRIORITY, 0, 10),
    maxAttempts: optionalWholeNumber('maxAttempts', options.maxAttempts, 1),
    timeoutMs: optionalWholeNumber('timeoutMs', options.timeoutMs, 1),
    backoffMs: optionalWholeNumber('backoffMs', options.backoffMs, 1),
    runAtUnixMs: options.runAt === undefined ? 0 : unixMsOf('runAt', options.runAt),
    idempotencyKey: options.idempotencyKey ?? '',
  });
}

/**
 * The ListJobs request for `filter`.
 *
 * @throws CrankError INVALID_INPUT naming the field and its rule
 */
export function compileListRequest(filter: ListJobsFilter): ListJobsRequest {
  const states =
    filter.status === undefined ? [] : typeof filter.status === 'string' ? [filter.status] : filter.status;
  for (const state of states) {
    if (!JOB_STATES.includes(state))
      throw invalid(`status: "${String(state)}" is not a job state (one of ${JOB_STATES.join(', ')})`);
  }
  const sort = filter.sort ?? 'created_desc';
  if (!JOB_SORTS.includes(sort))
    throw invalid(`sort: must be one of ${JOB_SORTS.join(', ')} (got "${String(sort)}")`);
  const priorityMin = optionalWholeNumber('priorityMin', filter.priorityMin, 0, 10);
  const priorityMax = optionalWholeNumber('priorityMax', filter.priorityMax, 1, 10);
  if (priorityMax !== 0 && priorityMin > priorityMax)
    throw invalid(`priorityMin: must not be above priorityMax (got ${priorityMin} > ${priorityMax})`);
  return ListJobsRequest.fromPartial({
    statuses: [...new Set(states)].map(jobStatusOf),
    capability: filter.capability ?? '',
    minPriority: priorityMin,
    maxPriority: priorityMax,
    createdAfterUnixMs: filter.from === undefined ? 0 : unixMsOf('from', filter.from),
    createdBeforeUnixMs: filter.to === undefined ? 0 : unixMsOf('to', filter.to),
    pageSize: optionalWholeNumber('limit', filter.limit, 1, MAX_JOBS_PAGE),
    pageToken: filter.cursor ?? '',
    order: ORDER_OF_SORT[sort],
  });
}

/** `value` when it is a whole number from `min` to `max`. */
function wholeNumber(field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (Number.isSafeInteger(value) && value >= min && value <= max) return value;
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
  throw invalid(`${field}: must be a whole number ${range} (got ${String(value)})`);
}

/** 0 (the wire's "unset") when `value` is undefined, else `value` checked. */
function optionalWholeNumber(field: string, value: number | undefined, min: number, max?: number): number {
  return value === undefined ? 0 : wholeNumber(field, value, min, max);
}

function unixMsOf(field: string, date: Date): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms) || ms <= 0) throw invalid(`${field}: must be a valid Date after 1970`);
  return ms;
}

function invalid(message: string): CrankError {
  return new CrankError('INVALID_INPUT', message);
}
