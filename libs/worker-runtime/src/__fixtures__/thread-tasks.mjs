// Task functions for thread-pool.spec.ts. Plain JavaScript: pool threads load files directly,
// without Jest's TypeScript transform.
import { isMainThread } from 'node:worker_threads';

/** Returns what the task saw: its input, the call's info, and whether it ran off the main thread. */
export function echo(input, info) {
  return { input, info, inThread: !isMainThread };
}

/** Reverses bytes; returns a Buffer, or a binary output when asked for one. */
export function reverseBytes(input) {
  const reversed = Buffer.from(input).reverse();
  return {
    isBuffer: Buffer.isBuffer(input),
    bytes: reversed,
    wrapped: { contentType: 'x/y', data: reversed },
  };
}

/** Returns a Buffer at the top level. */
export function bytesOut(input) {
  return Buffer.from(`${input.text}!`);
}

/**
 * Stands in for @crank/capabilities' CapabilityError, whose built dist a spec must not depend on:
 * the runner reads `code`, `message`, `details` and `retryable`, whatever the class.
 */
class CapabilityError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = 'CapabilityError';
    this.code = code;
    this.details = details;
  }
}

export function unsupported(input) {
  throw new CapabilityError('UNSUPPORTED_FORMAT', `from: "${input.from}" is not supported`, {
    supported: ['pdf'],
  });
}

export function plainError() {
  throw new Error('the disk is on fire');
}

/** Marks `input.started[0]` and spins the thread without yielding for `input.ms`. */
export function spin(input) {
  Atomics.store(input.started, 0, 1);
  const until = Date.now() + input.ms;
  while (Date.now() < until) {
    // busy: the thread never returns to its event loop
  }
  return { spun: input.ms };
}

export const notAFunction = 42;
