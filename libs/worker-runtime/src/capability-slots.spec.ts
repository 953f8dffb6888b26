import { describe, expect, it } from '@jest/globals';
import { CrankError, DEBUG_ECHO, defineCapability, type Capability } from '@crank/capabilities';
import { CapabilitySlots } from './capability-slots.js';
import { serve, type ServedCapability } from './handler.js';

const ECHO_TWO_SLOTS = defineCapability({
  ...DEBUG_ECHO.definition,
  resources: { ...DEBUG_ECHO.definition.resources, maxConcurrency: 2 },
});
const ECHO_1_1 = defineCapability({ ...DEBUG_ECHO.definition, version: '1.1.0' });
const UPPER = defineCapability({
  id: 'text.upper',
  version: '1.0.0',
  inputSchema: { type: 'object' },
  outputSchema: { type: 'object' },
  resources: { maxConcurrency: 1 },
});

const served = (capability: Capability): ServedCapability => serve(capability, () => ({}));

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the action to throw');
}

describe('CapabilitySlots', () => {
  describe('acquire', () => {
    it('hands out up to maxConcurrency slots, then refuses with RESOURCE_EXHAUSTED', () => {
      const slots = new CapabilitySlots([served(ECHO_TWO_SLOTS)]);
      const entry = slots.find('debug.echo', '1.0.0');
      slots.acquire(entry);
      slots.acquire(entry);

      const error = thrownBy(() => slots.acquire(entry));
      expect(error).toBeInstanceOf(CrankError);
      expect(error).toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
        message: 'capability "debug.echo": all 2 slots busy',
      });
      expect(entry.inFlight).toBe(2);

      slots.release(entry, true);
      expect(() => slots.acquire(entry)).not.toThrow();
    });

    it('refuses a capability that is not ready with MODEL_NOT_READY and the reason', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO), served(UPPER)]);
      slots.setReady('debug.echo', false, 'weights still downloading');

      const error = thrownBy(() => slots.acquire(slots.find('debug.echo', '1.0.0')));
      expect(error).toBeInstanceOf(CrankError);
      expect(error).toMatchObject({
        code: 'MODEL_NOT_READY',
        message: 'capability "debug.echo" is not ready: weights still downloading',
      });
      // The other capability is unaffected.
      expect(() => slots.acquire(slots.find('text.upper', '1.0.0'))).not.toThrow();
    });

    it('says "starting" when no reason was given, and serves again once ready', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO)]);
      const entry = slots.find('debug.echo', '1.0.0');
      slots.setReady('debug.echo', false);
      expect(() => slots.acquire(entry)).toThrow('capability "debug.echo" is not ready: starting');

      slots.setReady('debug.echo', true);
      slots.acquire(entry);
      expect(entry.inFlight).toBe(1);
    });
  });

  describe('find', () => {
    it('finds the exact version', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO), served(ECHO_1_1)]);
      expect(slots.find('debug.echo', '1.1.0').served.capability).toBe(ECHO_1_1);
      expect(slots.find('debug.echo', '1.0.0').served.capability).toBe(DEBUG_ECHO);
    });

    it('falls back to the only served version when none is asked for', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO)]);
      expect(slots.find('debug.echo', '').served.capability).toBe(DEBUG_ECHO);
    });

    it('answers NOT_FOUND naming the served versions for a version not served', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO), served(ECHO_1_1)]);
      const error = thrownBy(() => slots.find('debug.echo', '2.0.0'));
      expect(error).toBeInstanceOf(CrankError);
      expect(error).toMatchObject({
        code: 'NOT_FOUND',
        message: 'capability "debug.echo" version "2.0.0" is not served here; served: 1.0.0, 1.1.0',
      });
    });

    it('answers NOT_FOUND for a capability not served at all', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO)]);
      const error = thrownBy(() => slots.find('text.upper', '1.0.0'));
      expect(error).toBeInstanceOf(CrankError);
      expect(error).toMatchObject({
        code: 'NOT_FOUND',
        message: 'capability "text.upper" is not served by this worker',
      });
    });
  });

  describe('counters', () => {
    it('counts calls in flight, completed and failed, and the share of slots in use', () => {
      const slots = new CapabilitySlots([served(ECHO_TWO_SLOTS), served(UPPER)]);
      const echo = slots.find('debug.echo', '1.0.0');
      const upper = slots.find('text.upper', '1.0.0');
      expect(slots.load).toBe(0);

      slots.acquire(echo);
      slots.acquire(upper);
      expect(slots.inFlight).toBe(2);
      expect(slots.load).toBeCloseTo(2 / 3);

      slots.release(echo, true);
      slots.release(upper, false);
      expect(slots.inFlight).toBe(0);
      expect(slots.completed).toBe(2);
      expect(slots.load).toBe(0);
      expect(echo).toMatchObject({ completed: 1, failed: 0 });
      expect(upper).toMatchObject({ completed: 1, failed: 1 });
    });
  });

  describe('idle', () => {
    it('resolves at once when nothing is in flight', async () => {
      await expect(new CapabilitySlots([served(DEBUG_ECHO)]).idle()).resolves.toBeUndefined();
    });

    it('resolves when the last call in flight is released', async () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO), served(UPPER)]);
      const echo = slots.find('debug.echo', '1.0.0');
      const upper = slots.find('text.upper', '1.0.0');
      slots.acquire(echo);
      slots.acquire(upper);
      let idle = false;
      const waiting = slots.idle().then(() => {
        idle = true;
      });

      slots.release(echo, true);
      await Promise.resolve();
      expect(idle).toBe(false);

      slots.release(upper, true);
      await waiting;
      expect(idle).toBe(true);
    });
  });

  describe('setReady', () => {
    it('refuses a capability id this worker does not serve', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO)]);
      expect(() => slots.setReady('text.upper', true)).toThrow(TypeError);
      expect(() => slots.setReady('text.upper', true)).toThrow(
        'setReady: "text.upper" is not served by this worker',
      );
    });

    it('applies to every served version of the id', () => {
      const slots = new CapabilitySlots([served(DEBUG_ECHO), served(ECHO_1_1)]);
      slots.setReady('debug.echo', false, 'reloading');
      expect(slots.find('debug.echo', '1.0.0')).toMatchObject({ ready: false, reason: 'reloading' });
      expect(slots.find('debug.echo', '1.1.0')).toMatchObject({ ready: false, reason: 'reloading' });
    });
  });
});
