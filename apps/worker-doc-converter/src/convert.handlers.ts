import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { ConvertDocumentInput, ConvertDocumentOutput } from '@crank/capabilities';
import { CapabilityError, type BinaryOutput, type HandlerContext } from '@crank/worker-runtime';
import { CapabilityHandler } from '@crank/worker-runtime/nest';
import { CONVERT } from './convert-capability.js';
import { buildReply } from './convert-reply.js';
import { readConvertRequest } from './convert-request.js';
import type { ConversionRunner } from './conversion-runner.js';
import type { CompiledConverterOptions } from './converter-options.js';
import { TARGETS_OF } from './formats.js';
import { resolveSourceFormat, sniffFormat } from './sniff-format.js';

/** Nest token of the {@link CompiledConverterOptions}. */
export const CONVERTER_OPTIONS = Symbol('converter-options');
/** Nest token of the {@link ConversionRunner}. */
export const CONVERSION_RUNNER = Symbol('conversion-runner');

/**
 * `convert.document`: reads the call (size first), settles the source format (declared, sniffed,
 * or both and agreeing), refuses pairs it does not convert, then converts off the event loop
 * under a per-conversion timeout and answers in the form asked for.
 */
@Injectable()
export class ConvertHandlers implements OnApplicationShutdown {
  constructor(
    @Inject(CONVERTER_OPTIONS) private readonly options: CompiledConverterOptions,
    @Inject(CONVERSION_RUNNER) private readonly runner: ConversionRunner,
  ) {}

  @CapabilityHandler(CONVERT)
  async convert(
    input: ConvertDocumentInput | Buffer,
    ctx: HandlerContext,
  ): Promise<ConvertDocumentOutput | BinaryOutput> {
    const started = performance.now();
    const request = readConvertRequest(input, ctx.contentType, this.options.maxInputBytes);
    const { source, to } = request;
    const from = resolveSourceFormat(
      request.declared,
      sniffFormat(source),
      request.declaredBy,
      !/^utf-?8$/i.test(request.charset),
    );
    if (!TARGETS_OF[from].includes(to)) {
      throw new CapabilityError(
        'UNSUPPORTED_FORMAT',
        `${from} -> ${to}: not a pair this worker converts; ${from} converts to ${TARGETS_OF[from].join(', ')}`,
        { from, to },
      );
    }
    const deadline = conversionDeadline(ctx.signal, this.options.timeoutMs);
    try {
      const result = await this.runner.run(
        { source, from, to, options: request.options, charset: request.charset },
        {
          signal: deadline.signal,
          deadline: ctx.deadline,
          capability: ctx.capability,
          version: ctx.version,
          requestId: ctx.requestId,
        },
      );
      return buildReply(result, {
        to,
        from,
        reply: request.reply,
        bytesIn: source.length,
        durationMs: performance.now() - started,
      });
    } finally {
      deadline.dispose();
    }
  }

  /** Stops the conversion threads, after the worker has drained (Nest runs this hook last). */
  async onApplicationShutdown(): Promise<void> {
    await this.runner.close();
  }
}

/**
 * A signal that aborts with the call's own (cancel, deadline, drain) or, after `timeoutMs`, with
 * DEADLINE_EXCEEDED; `dispose()` clears its timer and listener.
 */
function conversionDeadline(
  callSignal: AbortSignal,
  timeoutMs: number,
): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const onCallAbort = (): void => abort.abort(callSignal.reason);
  if (callSignal.aborted) onCallAbort();
  else callSignal.addEventListener('abort', onCallAbort, { once: true });
  const timer = setTimeout(
    () =>
      abort.abort(
        new CapabilityError(
          'DEADLINE_EXCEEDED',
          `convert: gave up after ${timeoutMs} ms (CRANK_CONVERT_TIMEOUT_MS); the file may be too large or too complex`,
        ),
      ),
    timeoutMs,
  );
  timer.unref();
  return {
    signal: abort.signal,
    dispose: () => {
      clearTimeout(timer);
      callSignal.removeEventListener('abort', onCallAbort);
    },
  };
}
