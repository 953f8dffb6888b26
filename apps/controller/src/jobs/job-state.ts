import { CrankError } from '@crank/capabilities';

/**
 * The lifecycle of a job: `pending -> assigned -> processing -> completed | failed | cancelled`,
 * and `dead_letter` once the last attempt has failed.
 */
export type JobState =
  'pending' | 'assigned' | 'processing' | 'completed' | 'failed' | 'cancelled' | 'dead_letter';

/** Every state, in lifecycle order. */
export const JOB_STATES: readonly JobState[] = Object.freeze([
  'pending',
  'assigned',
  'processing',
  'completed',
  'failed',
  'cancelled',
  'dead_letter',
]);

/** States a job never leaves on its own (an operator may retry `failed` and `dead_letter`). */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set([
  'completed',
  'failed',
  'cancelled',
  'dead_letter',
]);

/**
 * The legal moves. `assigned`/`processing -> pending`: the attempt failed with a retryable code,
 * or its lease expired (the controller that held it died); `pending -> dead_letter`: a lease
 * expired on the last attempt; `failed`/`dead_letter -> pending`: an operator's retry.
 */
const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = Object.freeze({
  pending: ['assigned', 'cancelled', 'dead_letter'],
  assigned: ['processing', 'pending', 'completed', 'failed', 'cancelled', 'dead_letter'],
  processing: ['pending', 'completed', 'failed', 'cancelled', 'dead_letter'],
  completed: [],
  failed: ['pending'],
  cancelled: [],
  dead_letter: ['pending'],
});

/** Whether a job may move from `from` to `to`. */
export function canTransition(from: JobState, to: JobState): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * Checks a move before it is written.
 * @throws CrankError FAILED_PRECONDITION naming both states
 */
export function assertTransition(from: JobState, to: JobState): void {
  if (!canTransition(from, to)) {
    throw new CrankError('FAILED_PRECONDITION', `job state: cannot go from ${from} to ${to}`, {
      details: { from, to },
    });
  }
}
