import semver from 'semver';
import type { CapabilityCatalog } from './catalog/capability-catalog.js';
import type { CapabilityDefinition } from './capability-definition.js';
import { CapabilityMismatchError } from './errors.js';
import { firstDifference } from './json-value.js';

/**
 * Lists how a worker's `declared` definition contradicts a catalog `entry`, in words; empty when
 * it does not. Ids and major versions must match for the rest to be compared. Input and output
 * schemas must be deep-equal (key order aside), the streaming mode, idempotency and input media
 * types equal, and every
 * declared error code must be one the catalog lists. `description`, `resources` and the minor and
 * patch version may differ: they describe the worker, not the contract.
 */
export function compareWithCatalog(declared: CapabilityDefinition, entry: CapabilityDefinition): string[] {
  if (declared.id !== entry.id) return [`id: declared "${declared.id}", catalog "${entry.id}"`];
  const declaredMajor = semver.major(declared.version);
  const entryMajor = semver.major(entry.version);
  if (declaredMajor !== entryMajor) {
    return [`version: declared major ${declaredMajor}, catalog major ${entryMajor}`];
  }
  const contradictions: string[] = [];
  for (const field of ['inputSchema', 'outputSchema'] as const) {
    const at = firstDifference(declared[field], entry[field]);
    if (at !== undefined) contradictions.push(`${field} differs at ${at === '' ? '/' : at}`);
  }
  if (declared.streaming !== entry.streaming) {
    contradictions.push(`streaming: declared "${declared.streaming}", catalog "${entry.streaming}"`);
  }
  if (declared.idempotent !== entry.idempotent) {
    // A worker claiming idempotency the catalog denies would let the router retry calls with side effects.
    contradictions.push(`idempotent: declared ${declared.idempotent}, catalog ${entry.idempotent}`);
  }
  const declaredTypes = [...declared.inputMediaTypes].sort().join(', ');
  const entryTypes = [...entry.inputMediaTypes].sort().join(', ');
  if (declaredTypes !== entryTypes) {
    // Callers pick the media type by the catalog; a worker taking other types would fail them.
    contradictions.push(`inputMediaTypes: declared [${declaredTypes}], catalog [${entryTypes}]`);
  }
  const allowed: readonly string[] = entry.errorCodes;
  const extra = declared.errorCodes.filter((code) => !allowed.includes(code));
  if (extra.length > 0) {
    contradictions.push(
      `errorCodes: ${extra.join(', ')} not in the catalog's codes (${allowed.length > 0 ? allowed.join(', ') : 'none'})`,
    );
  }
  return contradictions;
}

/**
 * Checks a worker's declared capability against the catalog entry with the same id and major
 * version: the entry with the same version when there is one, else the highest of that major.
 *
 * @returns the entry compared with, or `undefined` when the catalog has no entry with that id and
 *   major (nothing to contradict; whether such capabilities are allowed is the caller's policy)
 * @throws CapabilityMismatchError - listing every contradiction, e.g. `classify.email@1.2.0
 *   contradicts the catalog entry 1.0.0: outputSchema differs at /properties/label/enum/1`
 */
export function checkAgainstCatalog(
  declared: CapabilityDefinition,
  catalog: Pick<CapabilityCatalog, 'entries'>,
): CapabilityDefinition | undefined {
  const major = semver.major(declared.version);
  const sameMajor = catalog
    .entries()
    .map((capability) => capability.definition)
    .filter((entry) => entry.id === declared.id && semver.major(entry.version) === major);
  const entry =
    sameMajor.find((candidate) => candidate.version === declared.version) ??
    sameMajor.sort((a, b) => semver.rcompare(a.version, b.version))[0];
  if (entry === undefined) return undefined;
  const contradictions = compareWithCatalog(declared, entry);
  if (contradictions.length > 0) {
    throw new CapabilityMismatchError(
      `${declared.id}@${declared.version} contradicts the catalog entry ${entry.version}: ${contradictions.join('; ')}`,
      contradictions,
      { details: { capability: `${declared.id}@${declared.version}`, catalogVersion: entry.version } },
    );
  }
  return entry;
}
