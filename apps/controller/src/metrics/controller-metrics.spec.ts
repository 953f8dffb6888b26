import { describe, expect, it } from '@jest/globals';
import { DEBUG_ECHO, builtinCatalog } from '@crank/capabilities';
import { RegisterRequest } from '@crank/proto';
import { pino } from 'pino';
import { descriptorOf } from '../../test/descriptors.js';
import { ByteBudget } from '../invoke/byte-budget.js';
import { WorkerRegistry } from '../registry/worker-registry.js';
import { Router } from '../routing/router.js';
import { ControllerMetrics } from './controller-metrics.js';

describe('ControllerMetrics', () => {
  it('labels calls only with capabilities that are offered or in the catalog, the rest as unknown', async () => {
    const registry = new WorkerRegistry({
      catalog: builtinCatalog(),
      heartbeatIntervalMs: 1_000,
      missedHeartbeats: 3,
      stuckAfterMs: 5_000,
      logger: pino({ level: 'silent' }),
    });
    const router = new Router(registry, {
      queueLimit: 1,
      queueTimeoutMs: 1_000,
      breakerFailureThreshold: 3,
      breakerCooldownMs: 1_000,
    });
    const metrics = new ControllerMetrics(registry, router, new ByteBudget(1_024));
    registry.register(
      RegisterRequest.fromPartial({
        workerId: 'w1',
        address: '10.0.0.1:1',
        capabilities: [descriptorOf(DEBUG_ECHO)],
      }),
      'key',
    );
    metrics.recordRequest('debug.echo', 'ok', 0.001);
    metrics.recordRequest('classify.email', 'UNAVAILABLE', 0.001);
    for (let i = 0; i < 2_000; i++) metrics.recordRequest(`made.up-${i}`, 'NOT_FOUND', 0.001);

    const text = await metrics.registry.metrics();
    const labels = new Set(
      [...text.matchAll(/crank_requests_total\{capability="([^"]+)"/g)].map((m) => m[1]),
    );
    expect(labels).toEqual(new Set(['debug.echo', 'classify.email', 'unknown']));
    expect(text).toContain('crank_requests_total{capability="unknown",outcome="NOT_FOUND"} 2000');
  });
});
