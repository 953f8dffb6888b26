import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import {
  status,
  type handleUnaryCall,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthListRequest,
  type HealthListResponse,
} from '@crank/proto';
import { HealthService } from './health-service.js';

interface UnaryAnswer<Res> {
  error: Parameters<sendUnaryData<Res>>[0];
  response: Res | null | undefined;
}

/** Calls a unary method and hands back what it answered. */
function callUnary<Req, Res>(method: handleUnaryCall<Req, Res>, request: Req): UnaryAnswer<Res> {
  let answer: UnaryAnswer<Res> | undefined;
  method({ request } as unknown as ServerUnaryCall<Req, Res>, (error, response) => {
    answer = { error, response };
  });
  if (!answer) throw new Error('the method did not answer');
  return answer;
}

/** A server stream that keeps what is written to it and can be cancelled like a real one. */
class FakeWatchStream extends EventEmitter {
  readonly written: ServingStatus[] = [];
  ended = false;

  constructor(readonly request: HealthCheckRequest) {
    super();
  }

  write(message: HealthCheckResponse): boolean {
    this.written.push(message.status);
    return true;
  }

  end(): void {
    this.ended = true;
  }

  asCall(): ServerWritableStream<HealthCheckRequest, HealthCheckResponse> {
    return this as unknown as ServerWritableStream<HealthCheckRequest, HealthCheckResponse>;
  }
}

describe('HealthService', () => {
  it('keeps one status per service', () => {
    const health = new HealthService();
    expect(health.get('')).toBeUndefined();
    health.set('', true);
    health.set('classify.image', false);
    expect(health.get('')).toBe(ServingStatus.SERVING);
    expect(health.get('classify.image')).toBe(ServingStatus.NOT_SERVING);
  });

  describe('check', () => {
    it('answers the status of a known service', () => {
      const health = new HealthService();
      health.set('', true);
      const { error, response } = callUnary(health.implementation().check, { service: '' });
      expect(error).toBeNull();
      expect(response).toEqual({ status: ServingStatus.SERVING });
    });

    it('answers NOT_FOUND for a service it has never heard of', () => {
      const health = new HealthService();
      const { error, response } = callUnary(health.implementation().check, { service: 'nope' });
      expect(error).toMatchObject({ code: status.NOT_FOUND, details: 'unknown service "nope"' });
      expect(response).toBeNull();
    });
  });

  it('lists every service with its status', () => {
    const health = new HealthService();
    health.set('', true);
    health.set('debug.echo', false);
    const { response } = callUnary<HealthListRequest, HealthListResponse>(health.implementation().list, {});
    expect(response).toEqual({
      statuses: {
        '': { status: ServingStatus.SERVING },
        'debug.echo': { status: ServingStatus.NOT_SERVING },
      },
    });
  });

  describe('watch', () => {
    it('sends the current status, then each change, and nothing for a repeat', () => {
      const health = new HealthService();
      health.set('', true);
      const stream = new FakeWatchStream({ service: '' });
      health.implementation().watch(stream.asCall());

      health.set('', true);
      health.set('', false);
      health.set('other', false);
      health.set('', true);
      expect(stream.written).toEqual([
        ServingStatus.SERVING,
        ServingStatus.NOT_SERVING,
        ServingStatus.SERVING,
      ]);
    });

    it('says SERVICE_UNKNOWN for a service not yet set, then follows it', () => {
      const health = new HealthService();
      const stream = new FakeWatchStream({ service: 'classify.image' });
      health.implementation().watch(stream.asCall());
      health.set('classify.image', true);
      expect(stream.written).toEqual([ServingStatus.SERVICE_UNKNOWN, ServingStatus.SERVING]);
    });

    it('stops writing to a cancelled stream and ends open streams on close', () => {
      const health = new HealthService();
      const cancelled = new FakeWatchStream({ service: '' });
      const open = new FakeWatchStream({ service: '' });
      health.implementation().watch(cancelled.asCall());
      health.implementation().watch(open.asCall());

      cancelled.emit('cancelled');
      health.set('', true);
      expect(cancelled.written).toEqual([ServingStatus.SERVICE_UNKNOWN]);
      expect(open.written).toEqual([ServingStatus.SERVICE_UNKNOWN, ServingStatus.SERVING]);

      health.close();
      expect(open.ended).toBe(true);
      health.set('', false);
      expect(open.written).toHaveLength(2);
    });
  });
});
