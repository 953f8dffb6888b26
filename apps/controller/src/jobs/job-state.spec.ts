import { describe, expect, it } from '@jest/globals';
import { JOB_STATES, TERMINAL_STATES, assertTransition, canTransition, type JobState } from './job-state.js';

const LEGAL: ReadonlyArray<[JobState, JobState]> = [
  ['pending', 'assigned'],
  ['pending', 'cancelled'],
  ['pending', 'dead_letter'],
  ['assigned', 'processing'],
  ['assigned', 'pending'],
  ['assigned', 'completed'],
  ['assigned', 'failed'],
  ['assigned', 'cancelled'],
  ['assigned', 'dead_letter'],
  ['processing', 'pending'],
  ['processing', 'completed'],
  ['processing', 'failed'],
  ['processing', 'cancelled'],
  ['processing', 'dead_letter'],
  ['failed', 'pending'],
  ['dead_letter', 'pending'],
];

describe('job state machine', () => {
  const legal = new Set(LEGAL.map(([from, to]) => `${from}->${to}`));

  it.each(JOB_STATES.flatMap((from) => JOB_STATES.map((to) => [from, to] as const)))(
    '%s -> %s is legal exactly when listed',
    (from, to) => {
      const expected = legal.has(`${from}->${to}`);
      expect(canTransition(from, to)).toBe(expected);
      if (expected) expect(() => assertTransition(from, to)).not.toThrow();
      else
        expect(() => assertTransition(from, to)).toThrow(
          expect.objectContaining({
            code: 'FAILED_PRECONDITION',
            message: `job state: cannot go from ${from} to ${to}`,
          }),
        );
    },
  );

  it('never leaves completed or cancelled, and leaves failed and dead_letter only by a retry', () => {
    for (const state of TERMINAL_STATES) {
      const exits = JOB_STATES.filter((to) => canTransition(state, to));
      expect(exits).toEqual(state === 'failed' || state === 'dead_letter' ? ['pending'] : []);
    }
  });
});
