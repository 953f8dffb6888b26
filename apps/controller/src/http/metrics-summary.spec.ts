import { describe, expect, it } from '@jest/globals';
import { builtinCatalog, type Capability } from '@crank/capabilities';
import type { JobSummary } from '../jobs/job-store.js';
import { newLedger, type WorkerRecord } from '../registry/worker-record.js';
import { currentLoad, metricsSummaryJson } from './metrics-summary.js';

const catalog = builtinCatalog();
const echo = catalog.get('debug.echo');
const email = catalog.get('classify.email');

/** A registered worker offering `capabilities`, with `inFlight` routed calls on each. */
function worker(
  id: string,
  capabilities: { capability: Capability; inFlight: number; ready?: boolean }[],
  draining = false,
): WorkerRecord {
  const ledger = newLedger(0);
  for (const c of capabilities) ledger.inFlight.set(c.capability.key, c.inFlight);
  return {
    id,
    address: '127.0.0.1:1',
    gpu: false,
    labels: {},
    runtimeVersion: '0.1.0',
    registeredAt: 0,
    offers: new Map(
      capabilities.map((c) => [
        c.capability.key,
        { capability: c.capability, ready: c.ready ?? true, reason: '' },
      ]),
    ),
    ledger,
    keyFingerprint: '',
    certNotAfter: undefined,
    draining,
    drainRequested: false,
    stuck: false,
    lastHeartbeatAt: 0,
    reportedInFlight: 0,
    reportedCompleted: 0,
    load: 0,
  };
}

describe('currentLoad', () => {
  const echoSlots = echo.definition.resources.maxConcurrency;
  const emailSlots = email.definition.resources.maxConcurrency;

  it('has no slot and no utilization without workers', () => {
    expect(currentLoad([])).toEqual({
      workers: 0,
      inFlight: 0,
      slots: 0,
      utilization: null,
      byCapability: {},
    });
  });

  it('adds in-flight calls and the slots of ready offers, per capability and in all', () => {
    const load = currentLoad([
      worker('a', [
        { capability: echo, inFlight: 2 },
        { capability: email, inFlight: 1 },
      ]),
      worker('b', [{ capability: echo, inFlight: 1 }]),
    ]);
    expect(load).toEqual({
      workers: 2,
      inFlight: 4,
      slots: 2 * echoSlots + emailSlots,
      utilization: 4 / (2 * echoSlots + emailSlots),
      byCapability: {
        'debug.echo': { inFlight: 3, slots: 2 * echoSlots },
        'classify.email': { inFlight: 1, slots: emailSlots },
      },
    });
  });

  it('counts the calls of draining workers and not-ready offers, but not their slots', () => {
    const load = currentLoad([
      worker('a', [{ capability: echo, inFlight: 1 }], true),
      worker('b', [{ capability: email, inFlight: 1, ready: false }]),
    ]);
    expect(load).toMatchObject({ workers: 2, inFlight: 2, slots: 0, utilization: null });
  });
});

describe('metricsSummaryJson', () => {
  it('turns missing figures into null', () => {
    const summary: JobSummary = {
      byState: {
        pending: 2,
        assigned: 0,
        processing: 0,
        completed: 0,
        failed: 0,
        cancelled: 1,
        dead_letter: 0,
      },
      queueDepth: { 'debug.echo': 2 },
      successRate: undefined,
      queueWaitMs: { p50: undefined, p95: undefined, p99: undefined },
      processingMs: { p50: 10, p95: 20, p99: 30 },
      windowMs: 900_000,
    };
    const load = currentLoad([]);
    expect(metricsSummaryJson(summary, load, Date.parse('2026-05-01T00:00:00Z'))).toEqual({
      at: '2026-05-01T00:00:00.000Z',
      windowMs: 900_000,
      byState: summary.byState,
      successRate: null,
      queueWaitMs: { p50: null, p95: null, p99: null },
      processingMs: { p50: 10, p95: 20, p99: 30 },
      queueDepth: { 'debug.echo': 2 },
      load,
    });
  });
});
