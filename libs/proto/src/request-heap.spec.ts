import { AsyncResource, executionAsyncId } from 'node:async_hooks';
import { describe, expect, it } from '@jest/globals';
import { lightAsyncResourceBind } from './request-heap.js';

describe('lightAsyncResourceBind', () => {
  lightAsyncResourceBind();

  it('binds as AsyncResource.bind does: in the resource scope, with this, arguments and length', () => {
    const resource = new AsyncResource('test');
    const seen: unknown[] = [];
    function target(this: unknown, a: number, b: number): number {
      seen.push(this, executionAsyncId());
      return a + b;
    }
    const bound = resource.bind(target);
    const receiver = { name: 'receiver' };

    expect(bound.call(receiver, 2, 3)).toBe(5);
    expect(seen).toEqual([receiver, resource.asyncId()]);
    expect(bound.length).toBe(2);

    // Node's own callers pass a thisArg, which the typings leave out.
    const bindWith = resource.bind as unknown as (
      this: AsyncResource,
      fn: typeof target,
      thisArg: unknown,
    ) => (a: number, b: number) => number;
    const withThis = bindWith.call(resource, target, receiver);
    seen.length = 0;
    expect(withThis(1, 1)).toBe(2);
    expect(seen).toEqual([receiver, resource.asyncId()]);
    expect(AsyncResource.bind(target).length).toBe(2);
  });

  it('drops the deprecated asyncResource accessor whose per-call prototypes kept calls alive', () => {
    const bound = new AsyncResource('test').bind(() => undefined);

    expect(Object.getOwnPropertyDescriptor(bound, 'asyncResource')).toBeUndefined();
  });

  it('refuses a non-function as AsyncResource.bind does', () => {
    expect(() => new AsyncResource('test').bind('nope' as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});
