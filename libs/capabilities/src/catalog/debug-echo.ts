import { defineBuiltinCapability } from '../capability-definition.js';
import { ERROR_CODES, type ErrorCode } from '../error-codes.js';

/** Input of `debug.echo`. */
export interface DebugEchoInput {
  message: string;
  /** Milliseconds the handler waits before answering (0 to 60000). */
  delayMs?: number;
  /** Contract code the handler fails with instead of answering. */
  failWith?: ErrorCode;
}

/** Output of `debug.echo`. */
export interface DebugEchoOutput {
  message: string;
  workerId: string;
  /** RFC 3339 date-time at which the worker received the call. */
  receivedAt: string;
}

const MESSAGE_MAX = 65_536;

/** The message both echo capabilities take, and give back. */
const MESSAGE_IN = { type: 'string', maxLength: MESSAGE_MAX, description: 'Text to send back.' } as const;
const MESSAGE_OUT = {
  type: 'string',
  maxLength: MESSAGE_MAX,
  description: 'The message as received.',
} as const;

/**
 * `debug.echo@1.0.0`: answers with the message it was sent and the id of the worker that served it.
 * Built for tests and smoke checks, so it can also be slow (`delayMs`) or fail on request
 * (`failWith`, hence every contract code in `errorCodes`).
 */
export const DEBUG_ECHO = defineBuiltinCapability<DebugEchoInput, DebugEchoOutput>({
  id: 'debug.echo',
  version: '1.0.0',
  description:
    'Echoes the message with the id of the worker that served it. delayMs makes the handler wait ' +
    '(tests of slow calls, deadlines, cancellation); failWith makes it fail with that contract code.',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['message'],
    properties: {
      message: MESSAGE_IN,
      delayMs: {
        type: 'integer',
        minimum: 0,
        maximum: 60_000,
        description: 'Milliseconds the handler waits before answering.',
      },
      failWith: {
        type: 'string',
        enum: [...ERROR_CODES],
        description: 'Contract error code the handler fails with instead of answering.',
      },
    },
  },
  outputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['message', 'workerId', 'receivedAt'],
    properties: {
      message: MESSAGE_OUT,
      workerId: {
        type: 'string',
        minLength: 1,
        maxLength: 256,
        description: 'Id of the worker that answered.',
      },
      receivedAt: { type: 'string', format: 'date-time', description: 'When the worker received the call.' },
    },
  },
  errorCodes: ERROR_CODES,
  idempotent: true,
});

/** One input record of `debug.echo-stream`. */
export interface DebugEchoStreamInput {
  message: string;
}

/** One output record of `debug.echo-stream`: an input record and its place in the stream. */
export interface DebugEchoStreamOutput {
  message: string;
  /** Position of the record in the stream, from 0. */
  seq: number;
}

/**
 * `debug.echo-stream@1.0.0`: the streaming counterpart of {@link DEBUG_ECHO}, answering each input
 * record as it arrives. Built for tests and benchmarks of streamed calls.
 */
export const DEBUG_ECHO_STREAM = defineBuiltinCapability<DebugEchoStreamInput, DebugEchoStreamOutput, 'bidi'>(
  {
    id: 'debug.echo-stream',
    version: '1.0.0',
    description: 'Echoes each record of a stream, as it arrives, with its position in the stream.',
    inputSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['message'],
      properties: {
        message: MESSAGE_IN,
      },
    },
    outputSchema: {
      type: 'object',
      additionalProperties: false,
      required: ['message', 'seq'],
      properties: {
        message: MESSAGE_OUT,
        seq: { type: 'integer', minimum: 0, description: 'Position of the record in the stream, from 0.' },
      },
    },
    errorCodes: ['INVALID_INPUT'],
    streaming: 'bidi',
    idempotent: true,
  },
);
