import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { TlsIdentity } from '@crank/controller-client';
import { pino } from 'pino';
import { CertificateRenewer } from './certificate-renewer.js';

const HOUR_MS = 3_600_000;
const LIFETIME_MS = 24 * HOUR_MS;
/** Renew with a quarter of the lifetime left: 18 h into a 24 h certificate. */
const FRACTION = 0.25;
const MAX_BACKOFF_MS = 1_000;

function identityUntil(notAfterMs: number, serial: number): TlsIdentity {
  return {
    identity: 'worker-1',
    keyPem: `key ${serial}`,
    certPem: `cert ${serial}`,
    caPem: 'ca',
    notAfter: new Date(notAfterMs),
  };
}

/** The controller side of renewal: hands out numbered certificates, or fails while told to. */
class FakeEnrollment {
  readonly presented: string[] = [];
  failing = false;
  private issued = 0;

  readonly renew = (current: TlsIdentity): Promise<TlsIdentity> => {
    this.presented.push(current.certPem);
    if (this.failing) return Promise.reject(new Error('UNAVAILABLE: controller down'));
    this.issued += 1;
    return Promise.resolve(identityUntil(Date.now() + LIFETIME_MS, this.issued));
  };
}

describe('CertificateRenewer', () => {
  let t0: number;
  let enrollment: FakeEnrollment;
  let applied: TlsIdentity[];
  let renewer: CertificateRenewer;

  beforeEach(() => {
    jest.useFakeTimers();
    t0 = Date.now();
    enrollment = new FakeEnrollment();
    applied = [];
    renewer = new CertificateRenewer(
      identityUntil(t0 + LIFETIME_MS, 0),
      enrollment.renew,
      (next) => applied.push(next),
      { renewAtRemainingFraction: FRACTION, maxBackoffMs: MAX_BACKOFF_MS, logger: pino({ level: 'silent' }) },
    );
  });

  afterEach(() => {
    renewer.stop();
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  describe('dueInMs', () => {
    it('is due when the configured share of the lifetime is left', () => {
      const identity = identityUntil(t0 + LIFETIME_MS, 0);
      expect(renewer.dueInMs(identity, t0)).toBe(18 * HOUR_MS);
      expect(renewer.dueInMs(identity, t0 + 10 * HOUR_MS)).toBe(8 * HOUR_MS);
      expect(renewer.dueInMs(identity, t0 + 18 * HOUR_MS)).toBe(0);
    });

    it('is never negative, even for an expired certificate', () => {
      const identity = identityUntil(t0 + LIFETIME_MS, 0);
      expect(renewer.dueInMs(identity, t0 + 30 * HOUR_MS)).toBe(0);
    });
  });

  it('renews when due, applies the new identity and schedules from its expiry', async () => {
    renewer.start();
    await jest.advanceTimersByTimeAsync(18 * HOUR_MS - 1);
    expect(enrollment.presented).toEqual([]);

    await jest.advanceTimersByTimeAsync(1);
    expect(enrollment.presented).toEqual(['cert 0']);
    expect(applied.map((i) => i.certPem)).toEqual(['cert 1']);

    // The new certificate lives 24 h from now: the next renewal is 18 h away, not sooner.
    await jest.advanceTimersByTimeAsync(18 * HOUR_MS - 1);
    expect(applied).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(enrollment.presented).toEqual(['cert 0', 'cert 1']);
    expect(applied.map((i) => i.certPem)).toEqual(['cert 1', 'cert 2']);
  });

  it('keeps the current identity and retries with backoff when renewal fails', async () => {
    enrollment.failing = true;
    renewer.start();
    await jest.advanceTimersByTimeAsync(18 * HOUR_MS);
    expect(enrollment.presented).toEqual(['cert 0']);

    // First retry: backoff of attempt 1 from 500 ms, at most 1 s.
    await jest.advanceTimersByTimeAsync(1_000);
    expect(enrollment.presented).toEqual(['cert 0', 'cert 0']);
    await jest.advanceTimersByTimeAsync(10 * 6 * MAX_BACKOFF_MS);
    expect(enrollment.presented.length).toBeGreaterThan(3);
    expect(new Set(enrollment.presented)).toEqual(new Set(['cert 0']));
    expect(applied).toEqual([]);

    enrollment.failing = false;
    await jest.advanceTimersByTimeAsync(6 * MAX_BACKOFF_MS);
    expect(applied.map((i) => i.certPem)).toEqual(['cert 1']);
  });

  it('never retries slower than the backoff ceiling', async () => {
    // The longest delay backoff may pick.
    jest.spyOn(Math, 'random').mockReturnValue(1);
    enrollment.failing = true;
    renewer.start();
    await jest.advanceTimersByTimeAsync(18 * HOUR_MS);
    const attemptsAt: number[] = [];
    for (let i = 0; i < 8; i += 1) {
      const before = enrollment.presented.length;
      const start = Date.now();
      while (enrollment.presented.length === before) await jest.advanceTimersByTimeAsync(100);
      attemptsAt.push(Date.now() - start);
    }
    expect(Math.max(...attemptsAt)).toBeLessThanOrEqual(6 * MAX_BACKOFF_MS);
    expect(attemptsAt.slice(-2)).toEqual([6 * MAX_BACKOFF_MS, 6 * MAX_BACKOFF_MS]);
  });

  it('stops renewing once stopped', async () => {
    renewer.start();
    renewer.stop();
    await jest.advanceTimersByTimeAsync(48 * HOUR_MS);
    expect(enrollment.presented).toEqual([]);
  });
});
