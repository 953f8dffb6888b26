import { describe, expect, it } from '@jest/globals';
import { pino, type Logger } from 'pino';
import { EnrollmentGuard, peerHost } from './enrollment-guard.js';

function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger: Logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('EnrollmentGuard', () => {
  it('slows a peer that keeps failing, doubling up to the cap, and forgets it on success', () => {
    let now = 0;
    const { logger } = recordingLogger();
    const guard = new EnrollmentGuard({ logger, now: () => now, maxDelayMs: 1_000 });
    expect(guard.delayMs('10.0.0.1')).toBe(0);
    const delays = [];
    for (let i = 0; i < 6; i++) {
      guard.failed('10.0.0.1', '', 'bad token');
      delays.push(guard.delayMs('10.0.0.1'));
      now += 1;
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(guard.delayMs('10.0.0.2')).toBe(0);
    guard.succeeded('10.0.0.1');
    expect(guard.delayMs('10.0.0.1')).toBe(0);
  });

  it('logs failures at most once per interval per peer, with the count since the last line', () => {
    let now = 0;
    const { logger, lines } = recordingLogger();
    const guard = new EnrollmentGuard({ logger, now: () => now, logEveryMs: 10_000 });
    for (let i = 0; i < 50; i++) {
      guard.failed('10.0.0.1', '', 'bad token');
      now += 100;
    }
    now += 10_000;
    guard.failed('10.0.0.1', '', 'bad token');
    const refused = lines.filter((l) => l['event'] === 'enroll_refused');
    expect(refused.map((l) => l['failures'])).toEqual([1, 50]);
    expect(JSON.stringify(lines)).not.toContain('token":');
  });

  it('forgets a peer after a quiet period', () => {
    let now = 0;
    const guard = new EnrollmentGuard({
      logger: recordingLogger().logger,
      now: () => now,
      forgetAfterMs: 1_000,
    });
    guard.failed('p', '', 'x');
    now += 1_001;
    expect(guard.delayMs('p')).toBe(0);
  });

  it('counts per host, whatever the port', () => {
    expect(peerHost('10.1.2.3:5555')).toBe('10.1.2.3');
    expect(peerHost('[::1]:5555')).toBe('::1');
    expect(peerHost('ipv4:10.1.2.3:5555')).toBe('ipv4:10.1.2.3:5555');
  });
});
