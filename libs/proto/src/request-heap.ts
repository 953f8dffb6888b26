import { AsyncResource } from 'node:async_hooks';
import { setFlagsFromString } from 'node:v8';
import { keepStreamTablesYoung } from './young-stream-tables.js';

let tuned = false;

/**
 * Tunes V8's garbage collector for a process that serves requests. Called by the controller and
 * the worker runtime at start, before they open connections; once per process. Three changes,
 * each measured with tools/bench/routing:
 *
 * - Allocation-site pretenuring off. V8 moves an allocation site to the old generation once many
 *   of its objects survive a young collection; the burst of calls at start-up makes it do so for
 *   sites whose objects live for one call, after which every call's objects land in the old
 *   generation. On the echo worker each young collection then copied ~2.5 MB and took 5 ms
 *   instead of 1, and old-generation collections ran on background threads, for a third more CPU
 *   per call.
 * - {@link lightAsyncResourceBind}: every HTTP/2 client request (each gRPC call the controller
 *   sends to a worker) goes through `AsyncResource.prototype.bind`, which in Node 20 gives the
 *   bound function a deprecated `asyncResource` accessor made with `util.deprecate`. That sets
 *   the prototype of a fresh function per call, and the hidden class V8 makes for it lives in the
 *   old generation and points back at the call: each call's whole object graph (stream, gRPC call,
 *   buffers) then survives young collections and is promoted. The controller promoted ~19 KB per
 *   call, young collections took 11 ms instead of 2, and its CPU per routed call fell from 308 to
 *   186 µs without it.
 * - {@link keepStreamTablesYoung}: the tables in which HTTP/2 sessions and grpc-js transports
 *   keep their calls are kept in the young generation, for the same reason (see there).
 */
export function tuneHeapForRequests(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString('--no-allocation-site-pretenuring');
  lightAsyncResourceBind();
  keepStreamTablesYoung();
}

/**
 * Replaces `AsyncResource.prototype.bind` with the same function minus the `asyncResource`
 * property (deprecated as DEP0172), where the running Node.js still adds it. The bound function
 * runs `fn` in the resource's async scope with the same `this`, arguments and `length`; reading
 * `bound.asyncResource` gives undefined instead of a deprecation warning. Returns whether it
 * replaced it.
 */
export function lightAsyncResourceBind(): boolean {
  const probe = new AsyncResource('crank-probe').bind(() => undefined);
  if (Object.getOwnPropertyDescriptor(probe, 'asyncResource')?.get === undefined) return false;
  Object.defineProperty(AsyncResource.prototype, 'bind', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function bind(this: AsyncResource, fn: unknown, thisArg?: unknown): unknown {
      if (typeof fn !== 'function') {
        throw Object.assign(
          new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`),
          { code: 'ERR_INVALID_ARG_TYPE' },
        );
      }
      return bindTo(this, fn as (...args: unknown[]) => unknown, thisArg);
    },
  });
  return true;
}

/** `fn` bound to run in `resource`'s async scope, with `thisArg` or the caller's `this`. */
function bindTo(
  resource: AsyncResource,
  fn: (...args: unknown[]) => unknown,
  thisArg: unknown,
): (...args: unknown[]) => unknown {
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]): unknown {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, fn, thisArg);
  Object.defineProperty(bound, 'length', { configurable: true, value: fn.length });
  return bound;
}
