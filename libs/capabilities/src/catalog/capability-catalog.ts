import semver from 'semver';
import type { Capability } from '../capability.js';
import { CapabilityError, NotFoundError } from '../errors.js';
import { describeVersions, pickHighest } from '../version-range.js';

/**
 * An immutable set of capabilities, several versions per id, looked up by id and semver range.
 * The controller checks worker declarations against one (see `checkAgainstCatalog`).
 */
export class CapabilityCatalog {
  // Invariant: each list is sorted highest version first; keys (`id@version`) are unique.
  readonly #byId = new Map<string, readonly Capability[]>();
  readonly #entries: readonly Capability[];

  /**
   * @throws CapabilityError - `ALREADY_EXISTS` when two capabilities share an `id@version`
   */
  constructor(capabilities: Iterable<Capability>) {
    const byId = new Map<string, Capability[]>();
    for (const capability of capabilities) {
      const versions = byId.get(capability.id) ?? [];
      if (versions.some((existing) => existing.version === capability.version)) {
        throw new CapabilityError('ALREADY_EXISTS', `catalog: ${capability.key} is listed twice`, {
          capability: capability.key,
        });
      }
      versions.push(capability);
      byId.set(capability.id, versions);
    }
    for (const id of [...byId.keys()].sort()) {
      const versions = byId.get(id) ?? [];
      this.#byId.set(id, Object.freeze(versions.sort((a, b) => semver.rcompare(a.version, b.version))));
    }
    this.#entries = Object.freeze([...this.#byId.values()].flat());
  }

  /**
   * The highest version of `id` that satisfies `range` (empty or omitted: any release), or
   * `undefined` when there is none.
   *
   * @throws InvalidInputError - when `range` is not a valid semver range
   */
  find(id: string, range = ''): Capability | undefined {
    const versions = this.#byId.get(id) ?? [];
    const version = pickHighest(
      versions.map((capability) => capability.version),
      range,
    );
    return versions.find((capability) => capability.version === version);
  }

  /**
   * Like {@link CapabilityCatalog.find}, but a miss is an error.
   *
   * @throws NotFoundError - naming the id, the range and the versions the catalog has
   */
  get(id: string, range = ''): Capability {
    const found = this.find(id, range);
    if (found !== undefined) return found;
    const versions = this.versions(id);
    const message =
      versions.length === 0
        ? `capability "${id}" is not in the catalog`
        : `no version of "${id}" satisfies "${range}" (catalog has: ${describeVersions(versions)})`;
    throw new NotFoundError(message, { details: { capability: id, range } });
  }

  /** Every capability, by id, highest version first within an id. */
  entries(): readonly Capability[] {
    return this.#entries;
  }

  /** Every capability id, sorted. */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  /** The versions of `id`, highest first; empty when the id is unknown. */
  versions(id: string): string[] {
    return (this.#byId.get(id) ?? []).map((capability) => capability.version);
  }
}
