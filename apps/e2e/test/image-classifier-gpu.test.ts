import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Cluster, eventually } from './harness.js';

const root = join(import.meta.dirname, '../../..');
const GPU_MAIN = join(root, 'apps/worker-image-classifier-gpu/dist/main.js');

/** A machine with an NVIDIA driver; there the worker may turn ready and this test does not apply. */
const HAS_GPU = existsSync('/dev/nvidia0');
if (HAS_GPU)
  console.warn(
    'image-classifier-gpu e2e skipped: this machine has a GPU (tools/device/gpu-check.sh covers it)',
  );

/**
 * The GPU worker on a machine without a GPU: it starts, registers as a GPU worker with
 * classify.image not ready and the reason, calls are not routed to it, and it stops cleanly.
 */
(HAS_GPU ? describe.skip : describe)('worker-image-classifier-gpu without a GPU', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await Cluster.start();
  }, 30_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('registers with classify.image not ready, saying why, and stops with status 0', async () => {
    const worker = cluster.spawn('image-classifier-gpu', GPU_MAIN, { CRANK_DRAIN_MS: '1000' });
    const id = String((await worker.event('registered', 30_000))['workerId']);
    const unavailable = await worker.event('gpu_unavailable', 60_000);
    expect(String(unavailable['reason'])).toMatch(/CUDA/);
    await eventually(async () => {
      const { workers } = (await cluster.http('/v1/workers')).body as {
        workers: {
          id: string;
          gpu: boolean;
          capabilities: { id: string; ready: boolean; reason?: string }[];
        }[];
      };
      const found = workers.find((w) => w.id === id);
      const offer = found?.capabilities.find((c) => c.id === 'classify.image');
      return found?.gpu === true && offer?.ready === false && /CUDA/.test(offer.reason ?? '');
    });
    const answer = await cluster.http('/v1/invoke/classify.image', {
      method: 'POST',
      headers: { 'content-type': 'image/png', 'x-crank-timeout-ms': '300' },
      body: Buffer.from([0x89, 0x50, 0x4e, 0x47]),
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  }, 90_000);
});
