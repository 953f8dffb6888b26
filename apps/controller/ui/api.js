// The dashboard's only way to the controller: its public HTTP API, with the caller's API key when
// HTTP auth is on (asked for once, kept in this tab's sessionStorage, sent as a bearer token).
const KEY_STORAGE = 'crank.apiKey';

/** An error answer of the API: `{ error: { code, message, details } }` and its status. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? {};
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) ?? '';
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

/** Listeners told when the API answers 401, so that the shell can ask for a key. */
const unauthorizedListeners = new Set();
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

async function failure(res) {
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (res.status === 401) for (const listener of unauthorizedListeners) listener();
  const error = body?.error;
  return new ApiError(
    res.status,
    error?.code ?? `HTTP_${res.status}`,
    error?.message ?? `${res.status} ${res.statusText}`,
    error?.details,
  );
}

/** GET (or another method with a JSON body) on the API; resolves with the parsed JSON answer. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, headers: headers() };
  if (body !== undefined) {
    init.headers = headers({ 'content-type': 'application/json' });
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return text === '' ? undefined : JSON.parse(text);
}

/**
 * Reads a Server-Sent Events stream with fetch (EventSource cannot send the API key) and calls
 * `onEvent(event, data)` for each frame until `signal` aborts; reconnects after a failure.
 */
export async function subscribe(path, onEvent, signal) {
  while (!signal.aborted) {
    try {
      const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal });
      if (!res.ok) throw await failure(res);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += value;
        let end;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          let event = 'message';
          const data = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) onEvent(event, JSON.parse(data.join('\n')));
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 401) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
