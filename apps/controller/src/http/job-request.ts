import { CrankError } from '@crank/capabilities';
import { echo } from '@crank/proto';
import { JSON_CONTENT_TYPE, isJson, parseJson } from '../invoke/payloads.js';
import { JOB_STATES, type JobState } from '../jobs/job-state.js';
import type { SubmitJob, WatchFilter } from '../jobs/job-service.js';
import type { JobFilter, JobOrder } from '../jobs/job-store.js';
import { singleQuery } from './invoke-edge.js';

/** The orders `GET /v1/jobs?sort=` takes. */
export const JOB_SORTS: readonly JobOrder[] = Object.freeze(['created_desc', 'created_asc', 'priority_desc']);

/** Most job ids one `GET /v1/jobs/events?id=` may name. */
export const MAX_WATCHED_IDS = 100;

/** Fields of the JSON body of `POST /v1/jobs`. */
const SUBMIT_FIELDS = [
  'capability',
  'version',
  'input',
  'priority',
  'maxAttempts',
  'timeoutMs',
  'backoffMs',
  'runAt',
  'idempotencyKey',
] as const;

/** Settings of a job submitted with its input as the raw body: every body field but `input`. */
const RAW_SUBMIT_PARAMETERS = SUBMIT_FIELDS.filter((field) => field !== 'input');

const INTEGER_FIELDS = ['priority', 'maxAttempts', 'timeoutMs', 'backoffMs'] as const;

const LIST_PARAMETERS = [
  'status',
  'capability',
  'priorityMin',
  'priorityMax',
  'from',
  'to',
  'limit',
  'cursor',
  'sort',
] as const;

/**
 * The job that `POST /v1/jobs` asks for, in one of two forms:
 * - a JSON body `{ capability, version?, input, priority?, maxAttempts?, timeoutMs?, backoffMs?,
 *   runAt?, idempotencyKey? }`, whose `input` (any JSON value) becomes a JSON input;
 * - with `?capability=` in the query, the body itself is the input, of the request's media type
 *   (JSON when none is given), and the other settings are query parameters too.
 *
 * Ranges (priority 0 to 10 and the like) are checked by `JobService.submit`.
 * @throws CrankError INVALID_INPUT naming the field, UNSUPPORTED_FORMAT for a body that is not JSON
 *   without `?capability=`
 */
export function parseSubmit(body: unknown, contentType: string | undefined, query: unknown): SubmitJob {
  const data = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  const mediaType = contentType?.trim() || JSON_CONTENT_TYPE;
  if (singleQuery(query, 'capability') !== undefined) {
    const params = knownParameters(query, RAW_SUBMIT_PARAMETERS, 'POST /v1/jobs');
    const request: SubmitJob = {
      capability: params['capability'] ?? '',
      input: { contentType: mediaType, data },
    };
    if (params['version'] !== undefined) request.range = params['version'];
    for (const field of INTEGER_FIELDS) {
      const raw = params[field];
      if (raw !== undefined) request[field] = wholeNumber(field, raw);
    }
    if (params['runAt'] !== undefined) request.runAt = instant('runAt', params['runAt']);
    if (params['idempotencyKey'] !== undefined) request.idempotencyKey = params['idempotencyKey'];
    return request;
  }

  knownParameters(
    query,
    [],
    'POST /v1/jobs with a JSON body (give ?capability= to send the input as the body)',
  );
  if (!isJson(mediaType)) {
    throw new CrankError(
      'UNSUPPORTED_FORMAT',
      `content-type: POST /v1/jobs takes a JSON body (got "${echo(mediaType, 100)}"); to submit raw bytes as the input, give ?capability=`,
      { details: { accepted: [JSON_CONTENT_TYPE] } },
    );
  }
  if (data.byteLength === 0) throw new CrankError('INVALID_INPUT', 'body: is empty; send the job as JSON');
  const value = parseJson(data, 'body');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CrankError('INVALID_INPUT', 'body: must be a JSON object { capability, input, ... }');
  }
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!(SUBMIT_FIELDS as readonly string[]).includes(name)) {
      throw new CrankError(
        'INVALID_INPUT',
        `${echo(name, 40)}: is not a field of a job (known: ${SUBMIT_FIELDS.join(', ')})`,
      );
    }
  }
  if (typeof fields['capability'] !== 'string') {
    throw new CrankError('INVALID_INPUT', 'capability: is required, a string such as "debug.echo"');
  }
  if (!('input' in fields) || fields['input'] === undefined) {
    throw new CrankError('INVALID_INPUT', 'input: is required (any JSON value the capability takes)');
  }
  const request: SubmitJob = {
    capability: fields['capability'],
    input: { contentType: JSON_CONTENT_TYPE, data: Buffer.from(JSON.stringify(fields['input'])) },
  };
  const version = optionalString(fields, 'version');
  if (version !== undefined) request.range = version;
  for (const field of INTEGER_FIELDS) {
    const raw = fields[field];
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== 'number' || !Number.isInteger(raw)) {
      throw new CrankError(
        'INVALID_INPUT',
        `${field}: must be a whole number (got ${echo(JSON.stringify(raw), 40)})`,
      );
    }
    request[field] = raw;
  }
  const runAt = fields['runAt'];
  if (runAt !== undefined && runAt !== null) {
    if (typeof runAt !== 'string' && typeof runAt !== 'number') {
      throw new CrankError('INVALID_INPUT', 'runAt: must be an ISO 8601 date-time or epoch milliseconds');
    }
    request.runAt = instant('runAt', runAt);
  }
  const idempotencyKey = optionalString(fields, 'idempotencyKey');
  if (idempotencyKey !== undefined) request.idempotencyKey = idempotencyKey;
  return request;
}

/**
 * The filter of `GET /v1/jobs?status=a,b&capability=&priorityMin=&priorityMax=&from=&to=&limit=
 * &cursor=&sort=`. Empty parameters count as absent; `from`/`to` take ISO 8601 or epoch ms.
 * @throws CrankError INVALID_INPUT naming the parameter (unknown or repeated ones too)
 */
export function parseListQuery(query: unknown): JobFilter {
  const params = knownParameters(query, LIST_PARAMETERS, 'GET /v1/jobs');
  const filter: JobFilter = {};
  if (params['status'] !== undefined) filter.states = states(params['status']);
  if (params['capability'] !== undefined) filter.capability = params['capability'];
  if (params['priorityMin'] !== undefined)
    filter.priorityMin = wholeNumber('priorityMin', params['priorityMin'], 0, 10);
  if (params['priorityMax'] !== undefined)
    filter.priorityMax = wholeNumber('priorityMax', params['priorityMax'], 0, 10);
  if (
    filter.priorityMin !== undefined &&
    filter.priorityMax !== undefined &&
    filter.priorityMin > filter.priorityMax
  ) {
    throw new CrankError(
      'INVALID_INPUT',
      `priorityMin: must not be above priorityMax (got ${filter.priorityMin} > ${filter.priorityMax})`,
    );
  }
  if (params['from'] !== undefined) filter.from = instant('from', params['from']);
  if (params['to'] !== undefined) filter.to = instant('to', params['to']);
  if (params['limit'] !== undefined) filter.limit = wholeNumber('limit', params['limit'], 1, 500);
  if (params['cursor'] !== undefined) filter.cursor = params['cursor'];
  const sort = params['sort'];
  if (sort !== undefined) {
    if (!(JOB_SORTS as readonly string[]).includes(sort)) {
      throw new CrankError(
        'INVALID_INPUT',
        `sort: must be one of ${JOB_SORTS.join(', ')} (got "${echo(sort, 40)}")`,
      );
    }
    filter.order = sort as JobOrder;
  }
  return filter;
}

/**
 * The filter of `GET /v1/jobs/events?capability=&id=a,b&after=`. `Last-Event-ID` (sent by an
 * `EventSource` that reconnects) wins over `after`, which the reconnecting URL still carries.
 * @throws CrankError INVALID_INPUT naming the parameter or header
 */
export function parseWatchQuery(query: unknown, lastEventId: string | undefined): WatchFilter {
  const params = knownParameters(query, ['capability', 'id', 'after'], 'GET /v1/jobs/events');
  const filter: WatchFilter = {};
  if (params['capability'] !== undefined) filter.capability = params['capability'];
  if (params['id'] !== undefined) {
    const ids = params['id']
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    if (ids.length > MAX_WATCHED_IDS) {
      throw new CrankError('INVALID_INPUT', `id: at most ${MAX_WATCHED_IDS} job ids (got ${ids.length})`);
    }
    for (const id of ids) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) {
        throw new CrankError('INVALID_INPUT', `id: "${echo(id, 40)}" is not a job id`);
      }
    }
    if (ids.length > 0) filter.ids = ids.map((id) => id.toLowerCase());
  }
  const header = lastEventId?.trim();
  if (header) filter.afterEventId = wholeNumber('Last-Event-ID', header, 0);
  else if (params['after'] !== undefined) filter.afterEventId = wholeNumber('after', params['after'], 0);
  return filter;
}

/**
 * An instant given as ISO 8601 (`2026-05-01T12:00:00Z`, or a date) or as epoch milliseconds.
 * @throws CrankError INVALID_INPUT naming `field`
 */
export function instant(field: string, value: string | number): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else if (/^\d{1,15}$/.test(value.trim())) {
    return Number(value.trim());
  } else if (
    /^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())
  ) {
    const ms = Date.parse(value.trim());
    if (Number.isFinite(ms) && ms >= 0) return ms;
  }
  throw new CrankError(
    'INVALID_INPUT',
    `${field}: must be an ISO 8601 date-time or epoch milliseconds (got ${echo(JSON.stringify(value), 60)})`,
  );
}

/**
 * A whole number in a query parameter or header, within bounds when given.
 * @throws CrankError INVALID_INPUT naming `field`
 */
export function wholeNumber(field: string, raw: string, min = -Infinity, max = Infinity): number {
  const value = /^-?\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = min === -Infinity ? '' : max === Infinity ? ` of ${min} or more` : ` from ${min} to ${max}`;
    throw new CrankError(
      'INVALID_INPUT',
      `${field}: must be a whole number${range} (got "${echo(raw, 40)}")`,
    );
  }
  return value;
}

/**
 * The query's parameters, each given at most once, empty ones left out.
 * @throws CrankError INVALID_INPUT naming a parameter that is repeated or not in `known`
 */
function knownParameters(
  query: unknown,
  known: readonly string[],
  route: string,
): Partial<Record<string, string>> {
  const params: Partial<Record<string, string>> = {};
  for (const name of Object.keys((query as Record<string, unknown> | undefined) ?? {})) {
    if (!known.includes(name)) {
      throw new CrankError(
        'INVALID_INPUT',
        `${echo(name, 40)}: is not a parameter of ${route}${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}`,
      );
    }
    const value = singleQuery(query, name);
    if (value !== undefined && value !== '') params[name] = value;
  }
  return params;
}

function states(raw: string): JobState[] {
  const names = raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  for (const name of names) {
    if (!(JOB_STATES as readonly string[]).includes(name)) {
      throw new CrankError(
        'INVALID_INPUT',
        `status: "${echo(name, 40)}" is not a job state (known: ${JOB_STATES.join(', ')})`,
      );
    }
  }
  return names as JobState[];
}

function optionalString(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new CrankError('INVALID_INPUT', `${name}: must be a string`);
  return value;
}
