import { Metadata, Server, ServerCredentials, credentials, type ServerInterceptor } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  HealthCheckRequest,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  HealthService,
  WIRE_LIMITS,
} from '@crank/proto';
import { longDeadlineGuard } from './long-deadline-guard.js';

const DAY_MS = 86_400_000;

describe('longDeadlineGuard', () => {
  const open: { server: Server; client: InstanceType<typeof HealthClient> }[] = [];

  afterEach(() => {
    for (const { server, client } of open.splice(0)) {
      client.close();
      server.forceShutdown();
    }
  });

  /**
   * A health server on a real socket that answers SERVING a few ms after a call arrives (as any
   * handler doing work would) and records the deadline it saw.
   */
  async function serve(interceptors: ServerInterceptor[]): Promise<{
    check(deadline: Date): Promise<string>;
    seenDeadlines: number[];
  }> {
    const seenDeadlines: number[] = [];
    const server = new Server({ interceptors });
    server.addService(HealthService, {
      check: (call: { getDeadline(): Date | number }, callback: (e: null, r: unknown) => void) => {
        const deadline = call.getDeadline();
        seenDeadlines.push(deadline instanceof Date ? deadline.getTime() : deadline);
        setTimeout(() => callback(null, { status: HealthCheckResponse_ServingStatus.SERVING }), 20);
      },
      watch: () => undefined,
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
    open.push({ server, client });
    return {
      seenDeadlines,
      check: (deadline) =>
        new Promise((resolve) =>
          client.check(HealthCheckRequest.fromPartial({}), new Metadata(), { deadline }, (error) =>
            resolve(error ? `error ${error.code}` : 'ok'),
          ),
        ),
    };
  }

  it('serves a call whose deadline is 30 days away, with the deadline clamped to the wire limit', async () => {
    const guarded = await serve([longDeadlineGuard]);
    const before = Date.now();
    expect(await guarded.check(new Date(Date.now() + 30 * DAY_MS))).toBe('ok');
    const seen = guarded.seenDeadlines[0] as number;
    expect(seen).toBeGreaterThanOrEqual(before + WIRE_LIMITS.maxDeadlineMs);
    expect(seen).toBeLessThanOrEqual(Date.now() + WIRE_LIMITS.maxDeadlineMs);
  });

  it('leaves ordinary deadlines as grpc-js read them', async () => {
    const guarded = await serve([longDeadlineGuard]);
    const deadline = Date.now() + 60_000;
    expect(await guarded.check(new Date(deadline))).toBe('ok');
    expect(Math.abs((guarded.seenDeadlines[0] as number) - deadline)).toBeLessThan(1_000);
  });

  it('is needed: grpc-js alone answers a 30-day deadline DEADLINE_EXCEEDED (code 4) at once', async () => {
    // If this starts passing with "ok", grpc-js reads grpc-timeout without overflow and the guard
    // can go.
    const bare = await serve([]);
    expect(await bare.check(new Date(Date.now() + 30 * DAY_MS))).toBe('error 4');
  });
});
