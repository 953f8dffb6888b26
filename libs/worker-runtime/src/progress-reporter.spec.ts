import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { ReportProgressRequest } from '@crank/proto';
import { pino } from 'pino';
import { ProgressReporter } from './progress-reporter.js';

describe('ProgressReporter', () => {
  let sent: ReportProgressRequest[];
  let reporter: ProgressReporter;

  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
    reporter = new ProgressReporter(
      'job-1',
      (report) => {
        sent.push(report);
        return Promise.resolve();
      },
      () => pino({ level: 'silent' }),
    );
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('sends the first report at once and the newest of a burst after the interval', async () => {
    reporter.report(0.1, 'start');
    reporter.report(0.2);
    reporter.report(0.3, 'later');
    expect(sent.map((r) => r.fraction)).toEqual([0.1]);
    await jest.advanceTimersByTimeAsync(250);
    expect(sent.map((r) => [r.jobId, r.fraction, r.message])).toEqual([
      ['job-1', 0.1, 'start'],
      ['job-1', 0.3, 'later'],
    ]);
  });

  it('clamps fractions, refuses what is not a number, and sends nothing after the call ended', async () => {
    reporter.report(7);
    expect(sent[0]?.fraction).toBe(1);
    expect(() => reporter.report(Number.NaN)).toThrow(TypeError);
    reporter.report(0.5);
    reporter.end();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(sent).toHaveLength(1);
  });
});
