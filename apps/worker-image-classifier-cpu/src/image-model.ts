import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import type { ImageTensor } from '@crank/vision';

/** A classifier: a batch tensor in, one row of probabilities per image out. */
export interface ImageModel {
  /** Name and version, as answers report it. */
  readonly name: string;
  /** Label of each output column. */
  readonly labels: readonly string[];
  /** Probabilities per image, in the batch's order, each row as long as `labels`. */
  classify(batch: ImageTensor): Promise<Float32Array[]>;
  /** Frees the session. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link OnnxImageModel.load}. */
export interface OnnxImageModelOptions {
  /** Threads one inference uses. */
  threads: number;
  /** Name and version reported in answers. */
  name: string;
  labels: readonly string[];
}

/**
 * An ONNX classifier run by onnxruntime-node on the CPU. `run` works in onnxruntime's own
 * threads, so the event loop stays free for heartbeats, health checks and the next batch's
 * decoding while it runs; one session serves every batch (the batcher runs one at a time).
 */
export class OnnxImageModel implements ImageModel {
  private closed: Promise<void> | undefined;

  protected constructor(
    private readonly session: ort.InferenceSession,
    readonly name: string,
    readonly labels: readonly string[],
  ) {}

  /**
   * Loads the model file.
   *
   * @throws Error naming the file when it is missing or onnxruntime refuses it
   */
  static async load(path: string, options: OnnxImageModelOptions): Promise<OnnxImageModel> {
    if (!existsSync(path))
      throw new Error(`model: ${path} does not exist (the build's model target writes it)`);
    const session = await ort.InferenceSession.create(path, {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // onnxruntime's threads spin between operators by default, burning the cores that decode
      // the next images and relay the calls; on a shared machine, waiting costs less.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new OnnxImageModel(session, options.name, options.labels);
  }

  async classify(batch: ImageTensor): Promise<Float32Array[]> {
    const [inputName] = this.session.inputNames;
    const [outputName] = this.session.outputNames;
    const input = new ort.Tensor('float32', batch.data, [...batch.dims]);
    const output = (await this.session.run({ [inputName as string]: input }))[outputName as string];
    if (!output) throw new Error(`model: answered no ${String(outputName)}`);
    const values = output.data as Float32Array;
    const width = this.labels.length;
    const rows: Float32Array[] = [];
    for (let n = 0; n < (batch.dims[0] ?? 0); n++) rows.push(values.slice(n * width, (n + 1) * width));
    return rows;
  }

  close(): Promise<void> {
    this.closed ??= this.session.release();
    return this.closed;
  }
}
