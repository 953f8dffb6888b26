import { describe, expect, it } from '@jest/globals';
import { instant, parseListQuery, parseSubmit, parseWatchQuery, wholeNumber } from './job-request.js';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** The error `fn` throws, for asserting its code and message. */
function thrown(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a throw');
}

describe('parseSubmit', () => {
  it('reads a JSON body into a submit whose input is the JSON of `input`', () => {
    const request = parseSubmit(
      json({
        capability: 'debug.echo',
        version: '^1.0.0',
        input: { message: 'hi' },
        priority: 7,
        maxAttempts: 5,
        timeoutMs: 1_000,
        backoffMs: 50,
        runAt: '2026-05-01T12:00:00Z',
        idempotencyKey: 'k',
      }),
      'application/json; charset=utf-8',
      {},
    );
    expect({ ...request, input: { ...request.input, data: request.input.data.toString() } }).toEqual({
      capability: 'debug.echo',
      range: '^1.0.0',
      input: { contentType: 'application/json', data: '{"message":"hi"}' },
      priority: 7,
      maxAttempts: 5,
      timeoutMs: 1_000,
      backoffMs: 50,
      runAt: Date.parse('2026-05-01T12:00:00Z'),
      idempotencyKey: 'k',
    });
  });

  it('leaves out what is not given, so that the service applies its defaults', () => {
    const request = parseSubmit(
      json({ capability: 'x.y', input: null, priority: null }),
      undefined,
      undefined,
    );
    expect(Object.keys(request).sort()).toEqual(['capability', 'input']);
    expect(request.input.data.toString()).toBe('null');
  });

  it('takes the raw body as the input with ?capability=, settings from the query', () => {
    const body = Buffer.from([0, 1, 2]);
    const request = parseSubmit(body, 'application/octet-stream', {
      capability: 'convert.bytes',
      version: '2',
      priority: '3',
      runAt: '1777000000000',
      idempotencyKey: 'k2',
    });
    expect(request).toEqual({
      capability: 'convert.bytes',
      range: '2',
      input: { contentType: 'application/octet-stream', data: body },
      priority: 3,
      runAt: 1_777_000_000_000,
      idempotencyKey: 'k2',
    });
    expect(parseSubmit(undefined, undefined, { capability: 'a.b' }).input).toEqual({
      contentType: 'application/json',
      data: Buffer.alloc(0),
    });
  });

  it.each([
    [json({ capability: 'a.b', input: 1, extra: true }), 'extra: is not a field of a job'],
    [json({ input: 1 }), 'capability: is required'],
    [json({ capability: 7, input: 1 }), 'capability: is required, a string'],
    [json({ capability: 'a.b' }), 'input: is required'],
    [json({ capability: 'a.b', input: 1, priority: '5' }), 'priority: must be a whole number (got "5")'],
    [json({ capability: 'a.b', input: 1, timeoutMs: 1.5 }), 'timeoutMs: must be a whole number (got 1.5)'],
    [json({ capability: 'a.b', input: 1, runAt: true }), 'runAt: must be an ISO 8601 date-time or epoch'],
    [json({ capability: 'a.b', input: 1, runAt: 'soon' }), 'runAt: must be an ISO 8601 date-time or epoch'],
    [json({ capability: 'a.b', input: 1, version: 1 }), 'version: must be a string'],
    [json([1]), 'body: must be a JSON object'],
    [Buffer.from('{"capability":'), 'body: is not valid JSON'],
    [Buffer.alloc(0), 'body: is empty'],
  ])('refuses a bad JSON body with INVALID_INPUT naming the field (%#)', (body, message) => {
    const error = thrown(() => parseSubmit(body, 'application/json', {}));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain(message);
  });

  it('refuses a body that is not JSON without ?capability=, and query parameters beside a JSON body', () => {
    expect(thrown(() => parseSubmit(Buffer.from('x'), 'text/plain', {}))).toMatchObject({
      code: 'UNSUPPORTED_FORMAT',
      message: expect.stringContaining('content-type: POST /v1/jobs takes a JSON body (got "text/plain")'),
    });
    expect(
      thrown(() => parseSubmit(json({ capability: 'a.b', input: 1 }), undefined, { priority: '1' })),
    ).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('priority: is not a parameter of POST /v1/jobs with a JSON body'),
    });
  });

  it('refuses bad and repeated query parameters of the raw form, naming them', () => {
    expect(
      thrown(() => parseSubmit(undefined, undefined, { capability: 'a.b', input: 'x' })).message,
    ).toContain('input: is not a parameter of POST /v1/jobs');
    expect(
      thrown(() => parseSubmit(undefined, undefined, { capability: 'a.b', priority: 'high' })).message,
    ).toBe('priority: must be a whole number (got "high")');
    expect(thrown(() => parseSubmit(undefined, undefined, { capability: ['a.b', 'c.d'] })).message).toBe(
      'capability: give it once (got 2)',
    );
  });
});

describe('parseListQuery', () => {
  it('reads every filter', () => {
    expect(
      parseListQuery({
        status: 'pending, failed',
        capability: 'debug.echo',
        priorityMin: '2',
        priorityMax: '8',
        from: '2026-05-01',
        to: '1777000000000',
        limit: '20',
        cursor: 'abc',
        sort: 'priority_desc',
      }),
    ).toEqual({
      states: ['pending', 'failed'],
      capability: 'debug.echo',
      priorityMin: 2,
      priorityMax: 8,
      from: Date.parse('2026-05-01'),
      to: 1_777_000_000_000,
      limit: 20,
      cursor: 'abc',
      order: 'priority_desc',
    });
  });

  it('takes an empty query, and empty parameters, as no filter', () => {
    expect(parseListQuery({})).toEqual({});
    expect(parseListQuery(undefined)).toEqual({});
    expect(parseListQuery({ status: '', capability: '' })).toEqual({});
  });

  it.each([
    [{ status: 'pending,done' }, 'status: "done" is not a job state (known: pending, assigned'],
    [{ status: ['pending', 'failed'] }, 'status: give it once (got 2)'],
    [{ priorityMin: '-1' }, 'priorityMin: must be a whole number from 0 to 10 (got "-1")'],
    [{ priorityMax: '11' }, 'priorityMax: must be a whole number from 0 to 10 (got "11")'],
    [{ priorityMin: '5', priorityMax: '4' }, 'priorityMin: must not be above priorityMax (got 5 > 4)'],
    [{ from: 'monday' }, 'from: must be an ISO 8601 date-time or epoch milliseconds (got "monday")'],
    [{ to: '2026-02-30T25:00:00Z' }, 'to: must be an ISO 8601 date-time'],
    [{ limit: '501' }, 'limit: must be a whole number from 1 to 500 (got "501")'],
    [{ limit: '1e2' }, 'limit: must be a whole number from 1 to 500 (got "1e2")'],
    [{ sort: 'oldest' }, 'sort: must be one of created_desc, created_asc, priority_desc (got "oldest")'],
    [{ page: '2' }, 'page: is not a parameter of GET /v1/jobs (known: status, capability'],
  ])('refuses %j with INVALID_INPUT naming the parameter', (query, message) => {
    const error = thrown(() => parseListQuery(query));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain(message);
  });
});

describe('parseWatchQuery', () => {
  const id = '01900000-0000-7000-8000-00000000000A';

  it('reads the capability, the job ids (lower-cased) and where to resume', () => {
    expect(
      parseWatchQuery({ capability: 'debug.echo', id: `${id}, ${id.toLowerCase()}`, after: '7' }, undefined),
    ).toEqual({
      capability: 'debug.echo',
      ids: [id.toLowerCase(), id.toLowerCase()],
      afterEventId: 7,
    });
    expect(parseWatchQuery({}, undefined)).toEqual({});
  });

  it('resumes after Last-Event-ID rather than ?after= (a reconnecting EventSource sends both)', () => {
    expect(parseWatchQuery({ after: '7' }, '12')).toEqual({ afterEventId: 12 });
    expect(parseWatchQuery({ after: '7' }, ' ')).toEqual({ afterEventId: 7 });
  });

  it.each([
    [{ id: 'job-1' }, undefined, 'id: "job-1" is not a job id'],
    [{ id: Array.from({ length: 101 }, () => id).join(',') }, undefined, 'id: at most 100 job ids (got 101)'],
    [{ after: '-1' }, undefined, 'after: must be a whole number of 0 or more (got "-1")'],
    [{}, 'abc', 'Last-Event-ID: must be a whole number of 0 or more (got "abc")'],
    [{ ids: id }, undefined, 'ids: is not a parameter of GET /v1/jobs/events'],
  ])('refuses %j (Last-Event-ID %s) naming the parameter', (query, header, message) => {
    const error = thrown(() => parseWatchQuery(query, header));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain(message);
  });
});

describe('instant and wholeNumber', () => {
  it('take ISO 8601 with or without a zone, dates, and epoch milliseconds', () => {
    expect(instant('t', '2026-05-01T12:00:00.250Z')).toBe(Date.parse('2026-05-01T12:00:00.250Z'));
    expect(instant('t', '2026-05-01T14:00:00+02:00')).toBe(Date.parse('2026-05-01T12:00:00Z'));
    expect(instant('t', '2026-05-01')).toBe(Date.parse('2026-05-01T00:00:00Z'));
    expect(instant('t', 1_777_000_000_000)).toBe(1_777_000_000_000);
    expect(instant('t', '0')).toBe(0);
  });

  it('refuse what is neither, naming the field', () => {
    for (const value of ['May 1, 2026', '2026-05-01T12', '', -5, 1.5, '1e12']) {
      expect(thrown(() => instant('runAt', value)).message).toMatch(/^runAt: must be an ISO 8601/);
    }
    expect(thrown(() => wholeNumber('limit', '12abc')).message).toBe(
      'limit: must be a whole number (got "12abc")',
    );
    expect(wholeNumber('x', ' 42 ', 0, 100)).toBe(42);
  });
});
