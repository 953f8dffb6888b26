import { describe, expect, it } from '@jest/globals';
import { CrankError } from '@crank/capabilities';
import type { CrankClient } from '@crank/controller-client';
import { mockContext } from './mock-context.js';

describe('mockContext', () => {
  it('fills every field of a handler context with test defaults', () => {
    const ctx = mockContext();
    expect(ctx).toMatchObject({
      capability: 'test.capability',
      version: '1.0.0',
      caller: 'test-caller',
      workerId: 'test-worker',
      contentType: 'application/json',
      deadline: undefined,
    });
    expect(ctx.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctx.signal.aborted).toBe(false);
  });

  it('takes overrides', () => {
    const ctx = mockContext({
      capability: 'reverse.text',
      requestId: 'r1',
      workerId: 'w1',
      caller: 'billing',
    });
    expect(ctx).toMatchObject({
      capability: 'reverse.text',
      requestId: 'r1',
      workerId: 'w1',
      caller: 'billing',
    });
  });

  it('records what the handler logs, child loggers included, with the request bindings', () => {
    const ctx = mockContext({ requestId: 'r1' });
    ctx.logger.info({ event: 'started' }, 'working');
    ctx.logger.child({ step: 2 }).warn('slow');
    expect(ctx.logs).toEqual([
      expect.objectContaining({ level: 'info', msg: 'working', event: 'started', requestId: 'r1' }),
      expect.objectContaining({ level: 'warn', msg: 'slow', step: 2, capability: 'test.capability' }),
    ]);
  });

  it('abort() aborts the signal with CANCELLED, as a caller cancel does', () => {
    const ctx = mockContext();
    ctx.abort();
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBeInstanceOf(CrankError);
    expect(ctx.signal.reason).toMatchObject({ code: 'CANCELLED', message: 'the caller cancelled the call' });
  });

  it('abort(reason) aborts with that reason', () => {
    const ctx = mockContext();
    const reason = new CrankError('UNAVAILABLE', 'worker drain deadline passed');
    ctx.abort(reason);
    expect(ctx.signal.reason).toBe(reason);
  });

  it('aborts with DEADLINE_EXCEEDED when timeoutMs passes, and sets the deadline', async () => {
    const before = Date.now();
    const ctx = mockContext({ timeoutMs: 20 });
    expect(ctx.deadline?.getTime()).toBeGreaterThanOrEqual(before + 20);
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    expect(ctx.signal.reason).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
  });

  it('follows an outer signal', () => {
    const outer = new AbortController();
    const ctx = mockContext({ signal: outer.signal });
    outer.abort(new CrankError('CANCELLED', 'test over'));
    expect(ctx.signal.reason).toMatchObject({ code: 'CANCELLED', message: 'test over' });
  });

  it('has a client whose calls throw an error saying how to give one', () => {
    const ctx = mockContext();
    expect(() => ctx.client.invoke('debug.echo', {})).toThrow(
      'ctx.client.invoke: this mock context has no client; pass mockContext({ client })',
    );
    const given = { marker: true } as unknown as CrankClient;
    expect(mockContext({ client: given }).client).toBe(given);
  });
});
