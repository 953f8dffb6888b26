import { Injectable } from '@nestjs/common';
import {
  DEBUG_ECHO_STREAM,
  type DebugEchoInput,
  type DebugEchoOutput,
  type DebugEchoStreamInput,
  type DebugEchoStreamOutput,
} from '@crank/capabilities';
import { CapabilityError, type HandlerContext } from '@crank/worker-runtime';
import { CapabilityHandler } from '@crank/worker-runtime/nest';
import { ECHO } from './echo-capability.js';

/** `debug.echo`: the template for a worker's business logic. */
@Injectable()
export class EchoHandlers {
  @CapabilityHandler(ECHO)
  async echo(input: DebugEchoInput, ctx: HandlerContext): Promise<DebugEchoOutput> {
    const receivedAt = new Date().toISOString();
    if (input.delayMs) await delay(input.delayMs, ctx.signal);
    if (input.failWith)
      throw new CapabilityError(input.failWith, `failed on request (failWith=${input.failWith})`);
    return { message: input.message, workerId: ctx.workerId, receivedAt };
  }

  /** `debug.echo-stream`: each record back as it arrives, numbered. */
  @CapabilityHandler(DEBUG_ECHO_STREAM)
  async *echoStream(records: AsyncIterable<DebugEchoStreamInput>): AsyncIterable<DebugEchoStreamOutput> {
    let seq = 0;
    for await (const { message } of records) yield { message, seq: seq++ };
  }
}

/** Waits, but gives up as soon as the call is cancelled or its deadline passes. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}
