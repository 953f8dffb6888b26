import { setFlagsFromString } from 'node:v8';

let tuned = false;

/**
 * Tunes V8's garbage collector for a process that serves requests: turns off allocation-site
 * pretenuring. V8 moves an allocation site to the old generation once many of its objects survive a
 * young collection; the burst of calls at start-up makes it do so for sites whose objects live for
 * one call, after which every call's objects land in the old generation. Measured on the echo
 * worker: each young collection then copied ~2.5 MB and took 5 ms instead of 1, and old-generation
 * collections ran on background threads, for a third more CPU per call (tools/bench/routing).
 * Called by the controller and the worker runtime at start; once per process.
 */
export function tuneHeapForRequests(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString('--no-allocation-site-pretenuring');
}
