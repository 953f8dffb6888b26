/** An event as the aggregator takes it: a parsed, checked `{ ts, key, value }`. */
export interface StreamEvent {
  /** Event time, ms since the epoch. */
  ts: number;
  key: string;
  value: number;
}

/** Longest key taken; longer ones make the event malformed (keys are held in memory). */
export const MAX_KEY_LENGTH = 256;

/**
 * The event a parsed input record stands for, or why it is none. `ts` is ms since the epoch or
 * an ISO 8601 string; `key` a string (a number is taken as its decimal text); `value` a finite
 * number.
 */
export function toEvent(record: unknown): StreamEvent | { malformed: string } {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { malformed: 'an event must be a JSON object { ts, key, value }' };
  }
  const { ts, key, value } = record as Record<string, unknown>;
  let time: number;
  if (typeof ts === 'number') time = ts;
  else if (typeof ts === 'string') time = Date.parse(ts);
  else return { malformed: ts === undefined ? 'ts: missing' : 'ts: must be ms since the epoch or ISO 8601' };
  if (!Number.isFinite(time)) return { malformed: `ts: not a time (${String(ts).slice(0, 40)})` };
  let name: string;
  if (typeof key === 'string') name = key;
  else if (typeof key === 'number' && Number.isFinite(key)) name = String(key);
  else return { malformed: key === undefined ? 'key: missing' : 'key: must be a string' };
  if (name.length > MAX_KEY_LENGTH) return { malformed: `key: longer than ${MAX_KEY_LENGTH} characters` };
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return { malformed: value === undefined ? 'value: missing' : 'value: must be a finite number' };
  }
  return { ts: time, key: name, value };
}
