import {
  ServerInterceptingCall,
  status,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import { WIRE_LIMITS } from '@crank/proto';

/**
 * The two fields of grpc-js's `BaseServerInterceptingCall` (private there; grpc-js 1.14) that hold
 * a call's deadline and the timer that answers DEADLINE_EXCEEDED when it passes.
 */
interface BaseCallDeadline {
  deadline: number;
  deadlineTimer: NodeJS.Timeout | null;
}

/** How far in the past a deadline must be on arrival to count as wrapped, not as merely short. */
const WRAPPED_BY_MS = 1_000;

/**
 * Keeps a far-future gRPC deadline from failing the call at once. grpc-js reads the
 * `grpc-timeout` header into a 32-bit integer (`(value * unit) | 0`), so a deadline more than
 * 2^31 ms (about 24.8 days) away wraps negative and grpc-js's own timer answers DEADLINE_EXCEEDED
 * before any handler runs. The header holds only digits, so a deadline already past on arrival
 * can only have wrapped: this interceptor, first in the chain (it sees the call grpc-js built),
 * replaces it with {@link WIRE_LIMITS.maxDeadlineMs} from now, the clamp every other long deadline
 * gets, and re-arms the timer for it. Deadlines that wrap to a positive value (past about
 * 49.7 days) cannot be told from real ones here; they come out shorter, never past.
 */
export const longDeadlineGuard: ServerInterceptor = (_method, call) => {
  const base = call as ServerInterceptingCallInterface & Partial<BaseCallDeadline>;
  const now = Date.now();
  if (
    typeof base.deadline !== 'number' ||
    !('deadlineTimer' in base) ||
    base.deadline >= now - WRAPPED_BY_MS
  ) {
    return new ServerInterceptingCall(call);
  }
  if (base.deadlineTimer) clearTimeout(base.deadlineTimer);
  base.deadline = now + WIRE_LIMITS.maxDeadlineMs;
  // Stored where grpc-js keeps its own, so that grpc-js clears it when the call ends.
  base.deadlineTimer = setTimeout(
    () => call.sendStatus({ code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded', metadata: null }),
    WIRE_LIMITS.maxDeadlineMs,
  );
  return new ServerInterceptingCall(call);
};
