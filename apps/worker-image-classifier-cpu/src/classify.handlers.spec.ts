import { describe, expect, it } from '@jest/globals';
import type { HandlerContext } from '@crank/worker-runtime';
import type { CrankWorkerHost } from '@crank/worker-runtime/nest';
import { pino } from 'pino';
import sharp from 'sharp';
import { compilePreprocessOptions, type ImageTensor } from '@crank/vision';
import { compileClassifierOptions } from './classifier-options.js';
import { ClassifyHandlers } from './classify.handlers.js';
import { ImageClassifier } from './image-classifier.js';
import type { ImageModel } from './image-model.js';

/** A model that calls everything neutral, and counts its inferences. */
class NeutralModel implements ImageModel {
  readonly name = 'neutral@1';
  readonly labels = ['drawing', 'hentai', 'neutral', 'porn', 'sexy'];
  inferences = 0;
  classify(batch: ImageTensor): Promise<Float32Array[]> {
    this.inferences++;
    return Promise.resolve(Array.from({ length: batch.dims[0] ?? 0 }, () => Float32Array.of(0, 0, 1, 0, 0)));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The worker host, as far as the handlers use it: readiness, recorded with the inferences run by then. */
function fakeHost(model: NeutralModel): { host: CrankWorkerHost; ready: [string, boolean, number][] } {
  const ready: [string, boolean, number][] = [];
  const host = {
    worker: { setReady: (id: string, value: boolean) => ready.push([id, value, model.inferences]) },
  };
  return { host: host as unknown as CrankWorkerHost, ready };
}

const ctx = (contentType: string): HandlerContext =>
  ({ contentType, signal: new AbortController().signal }) as unknown as HandlerContext;

describe('ClassifyHandlers', () => {
  it('answers MODEL_NOT_READY until the model has loaded and one warm-up inference ran, then classifies', async () => {
    const model = new NeutralModel();
    const { host, ready } = fakeHost(model);
    const handlers = new ClassifyHandlers(
      compileClassifierOptions({}, {}),
      () =>
        Promise.resolve(
          new ImageClassifier(model, {
            preprocess: compilePreprocessOptions({ size: 4 }),
            unsafeLabels: ['hentai', 'porn', 'sexy'],
            batchWindowMs: 0,
            maxBatch: 64,
          }),
        ),
      host,
      pino({ enabled: false }),
    );
    const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    await expect(handlers.classify(png, ctx('image/png'))).rejects.toMatchObject({ code: 'MODEL_NOT_READY' });

    await handlers.onApplicationBootstrap();
    expect(ready).toEqual([['classify.image', true, 1]]);
    await expect(handlers.classify(png, ctx('image/png; threshold=0.2'))).resolves.toEqual({
      label: 'neutral',
      score: 1,
      scores: { drawing: 0, hentai: 0, neutral: 1, porn: 0, sexy: 0 },
      unsafeScore: 0,
      safe: true,
      width: 8,
      height: 6,
      threshold: 0.2,
      model: 'neutral@1',
      device: 'cpu',
    });
    const batch = await handlers.classify({ images: [png.toString('base64')] }, ctx('application/json'));
    expect(batch).toMatchObject({ results: [{ label: 'neutral' }], threshold: 0.5 });
    await handlers.onApplicationShutdown();
  });
});
