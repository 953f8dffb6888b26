import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  CapabilityMismatchError,
  CrankError,
  DEBUG_ECHO,
  InvalidCapabilityError,
  builtinCatalog,
  defineCapability,
} from '@crank/capabilities';
import { HeartbeatRequest, RegisterRequest, StreamingMode, WorkerPhase } from '@crank/proto';
import { pino } from 'pino';
import { descriptorOf } from '../../test/descriptors.js';
import { offerInFlight, workerState, type WorkerRecord } from './worker-record.js';
import { WorkerIdTakenError, WorkerRegistry, type RemovalReason } from './worker-registry.js';

/** The key fingerprint a test worker registers with. */
const KEY = 'key-a';
const INTERVAL_MS = 1_000;
const MISSED = 3;
const STUCK_MS = 5_000;

function registerRequest(workerId: string, overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return RegisterRequest.fromPartial({
    workerId,
    address: `127.0.0.1:${workerId.length + 9000}`,
    capabilities: [descriptorOf(DEBUG_ECHO)],
    runtimeVersion: '0.1.0',
    ...overrides,
  });
}

const ECHO_KEY = `${DEBUG_ECHO.id}@${DEBUG_ECHO.version}`;

const UPPER = defineCapability({
  id: 'text.upper',
  version: '1.0.0',
  inputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
  outputSchema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
  errorCodes: ['INVALID_INPUT'],
});

function offer(worker: WorkerRecord, key: string) {
  const found = worker.offers.get(key);
  if (!found) throw new Error(`no offer ${key} on ${worker.id}`);
  return found;
}

describe('WorkerRegistry', () => {
  let nowMs: number;
  let registry: WorkerRegistry;
  let removed: { id: string; reason: RemovalReason }[];
  let capacityEvents: number;

  beforeEach(() => {
    nowMs = 1_000_000;
    registry = new WorkerRegistry({
      catalog: builtinCatalog(),
      heartbeatIntervalMs: INTERVAL_MS,
      missedHeartbeats: MISSED,
      stuckAfterMs: STUCK_MS,
      logger: pino({ level: 'silent' }),
      now: () => nowMs,
    });
    removed = [];
    capacityEvents = 0;
    registry.addListener({
      onCapacity: () => {
        capacityEvents += 1;
      },
      onRemoved: (worker, reason) => removed.push({ id: worker.id, reason }),
    });
  });

  describe('requestDrain', () => {
    it('takes the worker out of rotation until it leaves, whatever its heartbeats say', () => {
      registry.register(registerRequest('w1'), KEY);
      const before = capacityEvents;

      const worker = registry.requestDrain('w1', 'key:ops');

      expect(worker).toMatchObject({ drainRequested: true, draining: true });
      expect(workerState(worker, false)).toBe('draining');
      expect(capacityEvents).toBe(before + 1);
      const serving = HeartbeatRequest.fromPartial({
        workerId: 'w1',
        phase: WorkerPhase.WORKER_PHASE_SERVING,
      });
      expect(registry.heartbeat(serving, KEY)).toMatchObject({ drainRequested: true, draining: true });
    });

    it('is forgotten when the worker registers again (a new process)', () => {
      registry.register(registerRequest('w1'), KEY);
      registry.requestDrain('w1', 'key:ops');
      registry.deregister('w1', 'drained', KEY);

      expect(registry.register(registerRequest('w1'), KEY)).toMatchObject({
        drainRequested: false,
        draining: false,
      });
    });

    it('answers NOT_FOUND for a worker it does not have', () => {
      expect(() => registry.requestDrain('ghost', 'key:ops')).toThrow(
        expect.objectContaining({ code: 'NOT_FOUND' }),
      );
    });
  });

  describe('certificate expiry', () => {
    it('is recorded at registration and follows a renewed certificate through heartbeats', () => {
      expect(registry.register(registerRequest('w1'), KEY, 5_000).certNotAfter).toBe(5_000);
      expect(
        registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'w1' }), KEY, 9_000).certNotAfter,
      ).toBe(9_000);
    });
  });

  describe('register', () => {
    it('records the worker with one offer per declared capability and tells listeners', () => {
      const worker = registry.register(registerRequest('w1', { labels: { zone: 'a' } }), KEY);

      expect(worker).toMatchObject({ id: 'w1', gpu: false, labels: { zone: 'a' }, registeredAt: nowMs });
      expect([...worker.offers.keys()]).toEqual([ECHO_KEY]);
      expect(offer(worker, ECHO_KEY)).toMatchObject({ ready: true });
      expect(offerInFlight(worker, offer(worker, ECHO_KEY))).toBe(0);
      expect(offer(worker, ECHO_KEY).capability.definition.outputSchema).toEqual(
        DEBUG_ECHO.definition.outputSchema,
      );
      expect(registry.get('w1')).toBe(worker);
      expect(registry.list().map((w) => w.id)).toEqual(['w1']);
      expect(workerState(worker, false)).toBe('ready');
      expect(capacityEvents).toBe(1);
    });

    it('marks the worker as GPU when the request says so', () => {
      expect(registry.register(registerRequest('w1', { gpu: true }), KEY).gpu).toBe(true);
    });

    it('accepts a custom capability that the catalog does not know', () => {
      const worker = registry.register(registerRequest('w1', { capabilities: [descriptorOf(UPPER)] }), KEY);
      expect([...worker.offers.keys()]).toEqual(['text.upper@1.0.0']);
      expect(registry.offeredVersions('text.upper').map((c) => c.version)).toEqual(['1.0.0']);
    });

    it('refuses an output schema that contradicts the catalog and names the field', () => {
      const outputSchemaJson = JSON.stringify({
        type: 'object',
        properties: { message: { type: 'number' } },
      });
      const request = registerRequest('w1', {
        capabilities: [descriptorOf(DEBUG_ECHO, { version: '1.2.0', outputSchemaJson })],
      });

      const attempt = () => registry.register(request, KEY);
      expect(attempt).toThrow(CapabilityMismatchError);
      expect(attempt).toThrow(/outputSchema differs/);
      expect(registry.get('w1')).toBeUndefined();
    });

    it('refuses a streaming mode that contradicts the catalog', () => {
      const request = registerRequest('w1', {
        capabilities: [descriptorOf(DEBUG_ECHO, { streaming: StreamingMode.STREAMING_MODE_OUTPUT })],
      });
      let caught: unknown;
      try {
        registry.register(request, KEY);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CapabilityMismatchError);
      expect(caught).toMatchObject({
        code: 'CAPABILITY_MISMATCH',
        message: expect.stringMatching(/streaming: declared "output", catalog "none"/),
      });
    });

    it('refuses an invalid definition and says which capability in the request is at fault', () => {
      const request = registerRequest('w1', {
        capabilities: [descriptorOf(DEBUG_ECHO, { version: 'one' })],
      });
      let caught: unknown;
      try {
        registry.register(request, KEY);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidCapabilityError);
      expect((caught as InvalidCapabilityError).message).toMatch(
        /^capabilities\[0\] \(debug\.echo@one\): .*version/,
      );
      expect(registry.list()).toEqual([]);
    });

    it('refuses a request without an address', () => {
      const attempt = () => registry.register(registerRequest('w1', { address: '' }), KEY);
      expect(attempt).toThrow(CrankError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(attempt).toThrow(/^address: is required/);
    });

    it('refuses a request without capabilities', () => {
      const attempt = () => registry.register(registerRequest('w1', { capabilities: [] }), KEY);
      expect(attempt).toThrow(CrankError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(attempt).toThrow(/^capabilities: /);
    });

    it('applies the readiness sent with the registration', () => {
      const worker = registry.register(
        registerRequest('w1', {
          status: [{ id: DEBUG_ECHO.id, version: '', ready: false, inFlight: 0, reason: 'loading model' }],
        }),
        KEY,
      );
      expect(offer(worker, ECHO_KEY)).toMatchObject({ ready: false, reason: 'loading model' });
      expect(workerState(worker, false)).toBe('busy');
    });

    it('keeps the ledger of routed calls when the same id registers again', () => {
      const first = registry.register(registerRequest('w1'), KEY);
      first.ledger.inFlight.set(ECHO_KEY, 2);

      const second = registry.register(registerRequest('w1'), KEY);

      expect(second).not.toBe(first);
      expect(second.ledger).toBe(first.ledger);
      expect(offerInFlight(second, offer(second, ECHO_KEY))).toBe(2);
      expect(removed).toEqual([{ id: 'w1', reason: 'replaced' }]);
      expect(registry.list()).toHaveLength(1);
    });

    it('refuses a live id claimed with another key (ALREADY_EXISTS) and keeps the holder', () => {
      const holder = registry.register(registerRequest('w1', { address: '10.0.0.1:1' }), KEY);
      const attempt = () => registry.register(registerRequest('w1', { address: '10.0.0.9:9' }), 'key-b');
      expect(attempt).toThrow(WorkerIdTakenError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS' }));
      expect(registry.get('w1')).toBe(holder);
      expect(removed).toEqual([]);
    });

    it('gives the id to a new key once the holder has left', () => {
      registry.register(registerRequest('w1'), KEY);
      registry.deregister('w1', 'shutdown', KEY);
      const next = registry.register(registerRequest('w1'), 'key-b');
      expect(next.keyFingerprint).toBe('key-b');
      expect(next.ledger.completed).toBe(0);
    });

    it('refuses heartbeats and deregistration from another key', () => {
      registry.register(registerRequest('w1'), KEY);
      expect(() => registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'w1' }), 'key-b')).toThrow(
        expect.objectContaining({ code: 'PERMISSION_DENIED' }),
      );
      expect(() => registry.deregister('w1', 'hostile', 'key-b')).toThrow(
        expect.objectContaining({ code: 'PERMISSION_DENIED' }),
      );
      expect(registry.get('w1')).toBeDefined();
    });

    it('moves the id to the renewed key of its holder', () => {
      registry.register(registerRequest('w1'), KEY);
      registry.rebindKey('w1', 'not-the-holder', 'key-x');
      expect(registry.get('w1')?.keyFingerprint).toBe(KEY);
      registry.rebindKey('w1', KEY, 'key-renewed');
      expect(() =>
        registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'w1' }), 'key-renewed'),
      ).not.toThrow();
    });
  });

  describe('heartbeat', () => {
    it('refuses an unknown worker with NOT_FOUND', () => {
      const attempt = () => registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'ghost' }), KEY);
      expect(attempt).toThrow(CrankError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
      expect(attempt).toThrow(/"ghost" is not registered/);
    });

    it('records the reported counts and the time', () => {
      registry.register(registerRequest('w1'), KEY);
      nowMs += 500;
      const worker = registry.heartbeat(
        HeartbeatRequest.fromPartial({ workerId: 'w1', inFlight: 2, completed: 7, load: 0.5 }),
        KEY,
      );
      expect(worker).toMatchObject({
        reportedInFlight: 2,
        reportedCompleted: 7,
        load: 0.5,
        lastHeartbeatAt: nowMs,
        stuck: false,
      });
    });

    it('marks a worker stuck when calls are in flight and none progresses for longer than stuckAfterMs', () => {
      const worker = registry.register(registerRequest('w1'), KEY);
      const beat = () =>
        registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'w1', inFlight: 1 }), KEY);
      worker.ledger.inFlight.set(ECHO_KEY, 1);
      registry.progressed(worker);

      nowMs += STUCK_MS;
      expect(beat().stuck).toBe(false);

      nowMs += 1;
      const stuck = beat();
      expect(stuck.stuck).toBe(true);
      expect(workerState(stuck, false)).toBe('unhealthy');

      nowMs += 1_000;
      registry.progressed(worker);
      expect(worker.stuck).toBe(false);
      expect(workerState(worker, false)).toBe('ready');
    });

    it('does not call a worker stuck while its stream moves frames', () => {
      const worker = registry.register(registerRequest('w1'), KEY);
      worker.ledger.inFlight.set(ECHO_KEY, 1);
      for (let i = 0; i < 10; i++) {
        nowMs += STUCK_MS / 2;
        registry.progressed(worker);
        registry.sweep();
        registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'w1', inFlight: 1 }), KEY);
      }
      expect(worker.stuck).toBe(false);
    });

    it('does not call an idle worker stuck', () => {
      registry.register(registerRequest('w1'), KEY);
      nowMs += STUCK_MS * 3;
      const worker = registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'w1', inFlight: 0 }), KEY);
      expect(worker.stuck).toBe(false);
    });

    it('shows a worker reporting the draining phase as draining, and serving again when it says so', () => {
      registry.register(registerRequest('w1'), KEY);
      const draining = registry.heartbeat(
        HeartbeatRequest.fromPartial({ workerId: 'w1', phase: WorkerPhase.WORKER_PHASE_DRAINING }),
        KEY,
      );
      expect(workerState(draining, false)).toBe('draining');

      const serving = registry.heartbeat(
        HeartbeatRequest.fromPartial({ workerId: 'w1', phase: WorkerPhase.WORKER_PHASE_SERVING }),
        KEY,
      );
      expect(workerState(serving, false)).toBe('ready');
    });

    it('tracks readiness per capability: one not ready leaves the other routable', () => {
      registry.register(
        registerRequest('w1', { capabilities: [descriptorOf(DEBUG_ECHO), descriptorOf(UPPER)] }),
        KEY,
      );
      const worker = registry.heartbeat(
        HeartbeatRequest.fromPartial({
          workerId: 'w1',
          status: [
            { id: DEBUG_ECHO.id, version: DEBUG_ECHO.version, ready: false, reason: 'model failed to load' },
            { id: UPPER.id, version: UPPER.version, ready: true },
          ],
        }),
        KEY,
      );

      expect(offer(worker, ECHO_KEY)).toMatchObject({ ready: false, reason: 'model failed to load' });
      expect(offer(worker, UPPER.key)).toMatchObject({ ready: true });
      expect(workerState(worker, false)).toBe('ready');
    });

    it('shows an open breaker as unhealthy', () => {
      const worker = registry.register(registerRequest('w1'), KEY);
      expect(workerState(worker, true)).toBe('unhealthy');
    });
  });

  describe('sweep', () => {
    it('evicts a worker silent for more than missedHeartbeats intervals and keeps one heard from in time', () => {
      registry.register(registerRequest('quiet'), KEY);
      registry.register(registerRequest('chatty'), KEY);
      nowMs += INTERVAL_MS * MISSED - 100;
      registry.heartbeat(HeartbeatRequest.fromPartial({ workerId: 'chatty' }), KEY);

      nowMs += 101;
      registry.sweep();

      expect(registry.get('quiet')).toBeUndefined();
      expect(registry.get('chatty')).toBeDefined();
      expect(removed).toEqual([{ id: 'quiet', reason: 'evicted' }]);
    });

    it('keeps a worker silent for exactly the limit', () => {
      registry.register(registerRequest('w1'), KEY);
      nowMs += INTERVAL_MS * MISSED;
      registry.sweep();
      expect(registry.get('w1')).toBeDefined();
      expect(removed).toEqual([]);
    });
  });

  describe('deregister', () => {
    it('removes the worker and tells listeners once, however often it is called', () => {
      registry.register(registerRequest('w1'), KEY);
      registry.deregister('w1', 'shutdown', KEY);
      registry.deregister('w1', 'shutdown', KEY);
      registry.deregister('never-seen', 'shutdown', KEY);

      expect(registry.get('w1')).toBeUndefined();
      expect(registry.offeredVersions(DEBUG_ECHO.id)).toEqual([]);
      expect(removed).toEqual([{ id: 'w1', reason: 'deregistered' }]);
    });
  });

  describe('departed workers', () => {
    it('lists evicted and deregistered workers for ten minutes, and forgets one that comes back', () => {
      registry.register(registerRequest('left'), KEY);
      registry.register(registerRequest('silent'), KEY);
      registry.register(registerRequest('returns'), KEY);
      registry.deregister('left', 'shutdown', KEY);
      registry.deregister('returns', 'restart', KEY);
      nowMs += INTERVAL_MS * MISSED + 1;
      registry.sweep();
      registry.register(registerRequest('returns'), KEY);

      expect(registry.departedWorkers().map((d) => [d.worker.id, d.reason])).toEqual([
        ['left', 'deregistered'],
        ['silent', 'evicted'],
      ]);
      nowMs += 10 * 60_000 + 1;
      expect(registry.departedWorkers()).toEqual([]);
    });
  });

  describe('offeredVersions', () => {
    it('lists each offered version once across workers', () => {
      const v11 = defineCapability({ ...DEBUG_ECHO.definition, version: '1.1.0' });
      registry.register(registerRequest('w1'), KEY);
      registry.register(
        registerRequest('w2', { capabilities: [descriptorOf(DEBUG_ECHO), descriptorOf(v11)] }),
        KEY,
      );

      expect(
        registry
          .offeredVersions(DEBUG_ECHO.id)
          .map((c) => c.version)
          .sort(),
      ).toEqual(['1.0.0', '1.1.0']);
    });
  });
});
