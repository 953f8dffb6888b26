import { describe, expect, it } from '@jest/globals';
import { DEBUG_ECHO, DEBUG_ECHO_STREAM } from '@crank/capabilities';
import { CapabilitySlots } from './capability-slots.js';
import { serve } from './handler.js';
import { WorkerMetrics } from './worker-metrics.js';

const metrics = (): WorkerMetrics =>
  new WorkerMetrics(
    new CapabilitySlots([serve(DEBUG_ECHO, () => ({ message: '', workerId: 'w', receivedAt: '' }))]),
    {
      worker: 'w-1',
    },
  );

describe('WorkerMetrics', () => {
  it('exposes calls by capability, version and outcome, with the default labels, in Prometheus text', async () => {
    const m = metrics();
    for (let i = 0; i < 3; i++) m.recordCall(DEBUG_ECHO, 'ok', 0.002);
    m.recordCall(DEBUG_ECHO, 'INVALID_INPUT', 0.0001);
    m.recordCall(DEBUG_ECHO_STREAM, 'ok', 42);
    const text = await m.registry.metrics();
    expect(text).toContain('# TYPE crank_worker_requests_total counter');
    expect(text).toContain(
      'crank_worker_requests_total{capability="debug.echo",version="1.0.0",outcome="ok",worker="w-1"} 3',
    );
    expect(text).toContain(
      'crank_worker_requests_total{capability="debug.echo",version="1.0.0",outcome="INVALID_INPUT",worker="w-1"} 1',
    );
    expect(text).toContain(
      'crank_worker_requests_total{capability="debug.echo-stream",version="1.0.0",outcome="ok",worker="w-1"} 1',
    );
  });

  it('counts durations into cumulative buckets with sum and count, above the last bound in +Inf only', async () => {
    const m = metrics();
    m.recordCall(DEBUG_ECHO, 'ok', 0.0001); // first bucket (0.0005)
    m.recordCall(DEBUG_ECHO, 'ok', 0.001); // on a bound: counted in it
    m.recordCall(DEBUG_ECHO, 'ok', 0.003); // 0.005
    m.recordCall(DEBUG_ECHO, 'ok', 60); // past 30
    const text = await m.registry.metrics();
    const bucket = (le: string): string | undefined =>
      new RegExp(
        `crank_worker_request_duration_seconds_bucket\\{le="${le.replace('+', '\\+')}",capability="debug.echo",worker="w-1"\\} (\\d+)`,
      ).exec(text)?.[1];
    expect(bucket('0.0005')).toBe('1');
    expect(bucket('0.001')).toBe('2');
    expect(bucket('0.0025')).toBe('2');
    expect(bucket('0.005')).toBe('3');
    expect(bucket('30')).toBe('3');
    expect(bucket('+Inf')).toBe('4');
    expect(text).toMatch(
      /crank_worker_request_duration_seconds_count\{capability="debug.echo",worker="w-1"\} 4/,
    );
    expect(text).toMatch(
      /crank_worker_request_duration_seconds_sum\{capability="debug.echo",worker="w-1"\} 60\.0041/,
    );
  });

  it('reads as JSON and resets with the registry', async () => {
    const m = metrics();
    m.recordCall(DEBUG_ECHO, 'ok', 0.01);
    const json = await m.registry.getMetricsAsJSON();
    expect(json.find((metric) => metric.name === 'crank_worker_requests_total')).toMatchObject({
      type: 'counter',
      values: [
        { value: 1, labels: { capability: 'debug.echo', version: '1.0.0', outcome: 'ok', worker: 'w-1' } },
      ],
    });
    m.registry.resetMetrics();
    const line =
      'crank_worker_requests_total{capability="debug.echo",version="1.0.0",outcome="ok",worker="w-1"}';
    expect(await m.registry.metrics()).toContain(`${line} 0`);
    m.recordCall(DEBUG_ECHO, 'ok', 0.01);
    expect(await m.registry.metrics()).toContain(`${line} 1`);
  });
});
