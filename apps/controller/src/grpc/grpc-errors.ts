import type { ServiceError, StatusObject } from '@grpc/grpc-js';
import {
  ContractViolationError,
  CrankError,
  crankErrorFromStatus,
  type Capability,
} from '@crank/capabilities';
import { WIRE_LIMITS, contractErrorStatus, wireErrorInfo } from '@crank/proto';
import type { LeaseOutcome } from '../routing/router.js';

/** Any thrown value as a contract error; unknown failures become INTERNAL without leaking details. */
export function asCrankError(error: unknown): CrankError {
  if (error instanceof CrankError) return error;
  return new CrankError('INTERNAL', 'internal error', { cause: error });
}

/** A gRPC status object carrying the contract error in trailing metadata. */
export function toGrpcStatus(error: unknown): Partial<StatusObject> {
  return contractErrorStatus(asCrankError(error));
}

/** A worker's failure, read: the error for the caller and what it says of the worker. */
export interface WorkerFailure {
  error: CrankError;
  outcome: LeaseOutcome;
  /** Whether the call may go to another worker (it never started here, or it is idempotent). */
  retryable: boolean;
}

/**
 * A caller that cancels this close to its deadline, or later, is taken to have run out of time:
 * its deadline and the controller's copy (read from `grpc-timeout` on arrival) differ by the
 * request's transit, which grows on a loaded machine.
 */
export const DEADLINE_SLACK_MS = 250;

/** Codes a worker answers when it refuses a call before accepting it: try another worker. */
const REFUSALS: ReadonlySet<string> = new Set(['UNAVAILABLE', 'MODEL_NOT_READY', 'RESOURCE_EXHAUSTED']);

/**
 * Reads a failed call to a worker, the same way for unary calls and streams: the contract error
 * the worker sent (checked against the codes the capability declares: an undeclared one is the
 * worker breaking its contract), or a transport failure read through the one status table; and
 * the lease outcome (see {@link LeaseOutcome}) the breaker and outlier detection learn from.
 */
export function readWorkerFailure(
  failure: ServiceError,
  call: {
    capability: Capability;
    workerId: string;
    /** Whether the worker had accepted the call (its accepted header or frame arrived). */
    accepted: boolean;
    /** Whether the caller cancelled (its own signal aborted). */
    callerAborted: boolean;
    /** The call's deadline (epoch ms), when it has one. */
    deadlineMs?: number;
  },
  now = Date.now(),
): WorkerFailure {
  if (call.callerAborted) {
    // A gRPC caller cancels when its own deadline passes, a moment before the controller's copy
    // of that deadline does: that is the worker running out of time (outlier detection must count
    // it, or a hung worker is never ejected while callers use deadlines), not a caller giving up.
    if (call.deadlineMs !== undefined && now >= call.deadlineMs - DEADLINE_SLACK_MS) {
      return {
        error: new CrankError('DEADLINE_EXCEEDED', 'the deadline passed before the worker answered', {
          cause: failure,
        }),
        outcome: 'timeout',
        retryable: false,
      };
    }
    return {
      error: new CrankError('CANCELLED', 'the caller cancelled the call', { cause: failure }),
      outcome: 'abandoned',
      retryable: false,
    };
  }
  const info = wireErrorInfo(failure.metadata);
  const error = crankErrorFromStatus(failure.code, failure.details ?? '', info, failure);
  const retryIfSafe = !call.accepted || call.capability.definition.idempotent;
  if (info) {
    if (!call.capability.mayFailWith(error.code, 'worker')) {
      return {
        error: new ContractViolationError(
          `worker "${call.workerId}" failed with ${error.code}, which ${call.capability.key} does not declare`,
          [],
          { details: { capability: call.capability.id, code: error.code }, cause: failure },
        ),
        outcome: 'fault',
        retryable: false,
      };
    }
    switch (error.code) {
      case 'INTERNAL':
      case 'CONTRACT_VIOLATION':
        return { error, outcome: 'fault', retryable: false };
      case 'DEADLINE_EXCEEDED':
        return { error, outcome: 'timeout', retryable: false };
      case 'CANCELLED':
        return { error, outcome: 'abandoned', retryable: false };
      default:
        return { error, outcome: 'answered', retryable: REFUSALS.has(error.code) && !call.accepted };
    }
  }
  if (error.code === 'DEADLINE_EXCEEDED') return { error, outcome: 'timeout', retryable: false };
  return { error, outcome: 'fault', retryable: error.code === 'UNAVAILABLE' && retryIfSafe };
}

/**
 * The caller's deadline as epoch ms, or undefined when it set none (grpc-js reports Infinity).
 * Deadlines past {@link WIRE_LIMITS.maxDeadlineMs} are clamped to it: no timer downstream can
 * overflow, whatever a caller asks.
 */
export function deadlineOf(call: { getDeadline(): Date | number }, now = Date.now()): number | undefined {
  const raw = call.getDeadline();
  const deadline = raw instanceof Date ? raw.getTime() : raw;
  if (!Number.isFinite(deadline)) return undefined;
  return Math.min(deadline, now + WIRE_LIMITS.maxDeadlineMs);
}
