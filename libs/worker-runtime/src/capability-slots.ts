import { CrankError } from '@crank/capabilities';
import type { ServedCapability } from './handler.js';

/** One served capability with its live counters. */
export interface SlotEntry {
  readonly served: ServedCapability;
  inFlight: number;
  completed: number;
  failed: number;
  ready: boolean;
  reason: string;
}

/**
 * The served capabilities by `id@version`, each with a concurrency limit (`maxConcurrency`) and
 * readiness. Calls beyond the limit are refused before they are accepted, so the controller can
 * send them elsewhere.
 */
export class CapabilitySlots {
  readonly entries = new Map<string, SlotEntry>();
  private totalCompleted = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(served: readonly ServedCapability[]) {
    for (const s of served) {
      this.entries.set(s.capability.key, {
        served: s,
        inFlight: 0,
        completed: 0,
        failed: 0,
        ready: s.options.ready,
        reason: s.options.reason,
      });
    }
  }

  /** Finds the entry for an exact version, or the only served version when none is given. */
  find(capabilityId: string, version: string): SlotEntry {
    const exact = this.entries.get(`${capabilityId}@${version}`);
    if (exact) return exact;
    const offered = [...this.entries.values()].filter((e) => e.served.capability.id === capabilityId);
    if (offered.length === 0) {
      throw new CrankError('NOT_FOUND', `capability "${capabilityId}" is not served by this worker`);
    }
    if (!version && offered.length === 1) return offered[0] as SlotEntry;
    throw new CrankError(
      'NOT_FOUND',
      `capability "${capabilityId}" version "${version}" is not served here; served: ${offered.map((e) => e.served.capability.version).join(', ')}`,
    );
  }

  /** Takes a slot or throws RESOURCE_EXHAUSTED / MODEL_NOT_READY. Release with {@link release}. */
  acquire(entry: SlotEntry): void {
    if (!entry.ready) {
      throw new CrankError(
        'MODEL_NOT_READY',
        `capability "${entry.served.capability.id}" is not ready: ${entry.reason || 'starting'}`,
      );
    }
    const max = entry.served.capability.definition.resources.maxConcurrency;
    if (entry.inFlight >= max) {
      throw new CrankError(
        'RESOURCE_EXHAUSTED',
        `capability "${entry.served.capability.id}": all ${max} slots busy`,
      );
    }
    entry.inFlight += 1;
  }

  release(entry: SlotEntry, ok: boolean): void {
    entry.inFlight -= 1;
    entry.completed += 1;
    if (!ok) entry.failed += 1;
    this.totalCompleted += 1;
    if (this.inFlight === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  setReady(capabilityId: string, ready: boolean, reason = ''): void {
    let found = false;
    for (const entry of this.entries.values()) {
      if (entry.served.capability.id !== capabilityId) continue;
      entry.ready = ready;
      entry.reason = reason;
      found = true;
    }
    if (!found) throw new TypeError(`setReady: "${capabilityId}" is not served by this worker`);
  }

  get inFlight(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.inFlight;
    return total;
  }

  get completed(): number {
    return this.totalCompleted;
  }

  /** Share of all slots in use, 0..1. */
  get load(): number {
    let slots = 0;
    for (const entry of this.entries.values())
      slots += entry.served.capability.definition.resources.maxConcurrency;
    return slots === 0 ? 0 : this.inFlight / slots;
  }

  /** Resolves when no call is in flight. */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
