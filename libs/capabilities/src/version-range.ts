import semver from 'semver';
import { InvalidInputError } from './errors.js';

/**
 * Semver range matching as the router and the catalog use it. Ranges follow npm's grammar (`1.2.3`,
 * `^1.2`, `~1.2.0`, `>=1 <3`, `1.x`). An empty range or `*` matches any release; prerelease
 * versions only match a range that names a prerelease of the same major.minor.patch, as in npm,
 * so a `2.0.0-rc.1` worker is never picked by a caller that did not ask for it.
 */

function normaliseRange(range: string): string {
  const trimmed = range.trim();
  return trimmed === '' ? '*' : trimmed;
}

/**
 * Parsed ranges by their text. The router matches a range on every call, and callers use a handful
 * of distinct ranges; parsing one costs more than the match itself. Bounded: cleared when full.
 */
const parsedRanges = new Map<string, semver.Range>();
const PARSED_RANGES_MAX = 1_000;

function parseRange(range: string): semver.Range {
  const cached = parsedRanges.get(range);
  if (cached) return cached;
  const normalised = normaliseRange(range);
  let parsed: semver.Range;
  try {
    parsed = new semver.Range(normalised);
  } catch {
    throw new InvalidInputError(
      `version: must be a semver range such as "^1.2.0" (got ${JSON.stringify(range)})`,
      [
        {
          path: '/version',
          message: `must be a semver range (got ${JSON.stringify(range)})`,
          keyword: 'semverRange',
        },
      ],
    );
  }
  if (parsedRanges.size >= PARSED_RANGES_MAX) parsedRanges.clear();
  parsedRanges.set(range, parsed);
  return parsed;
}

/**
 * Checks `range` and returns it in the form semver matches against (empty becomes `*`).
 *
 * @throws InvalidInputError - naming `version` (the request field that carries the range) and the
 *   range, when it is not a valid semver range
 */
export function assertValidRange(range: string): string {
  parseRange(range);
  return normaliseRange(range);
}

/**
 * Whether `version` satisfies `range`. An invalid `version` satisfies nothing.
 *
 * @throws InvalidInputError - when `range` is not a valid semver range
 */
export function satisfiesRange(version: string, range: string): boolean {
  const parsed = parseRange(range);
  const semverVersion = parseVersion(version);
  return semverVersion !== undefined && parsed.test(semverVersion);
}

/**
 * Parsed versions by their text, for the same reason as {@link parsedRanges}: workers offer a
 * handful of versions, matched on every call. `null` marks text that is not a version.
 */
const parsedVersions = new Map<string, semver.SemVer | null>();

function parseVersion(version: string): semver.SemVer | undefined {
  let parsed = parsedVersions.get(version);
  if (parsed === undefined) {
    parsed = semver.parse(version);
    if (parsedVersions.size >= PARSED_RANGES_MAX) parsedVersions.clear();
    parsedVersions.set(version, parsed);
  }
  return parsed ?? undefined;
}

/**
 * The highest of `versions` that satisfies `range`, or `undefined` when none does. Prereleases are
 * left out unless the range names one (see the file comment); invalid versions are skipped.
 *
 * @throws InvalidInputError - when `range` is not a valid semver range
 */
export function pickHighest(versions: Iterable<string>, range: string): string | undefined {
  return semver.maxSatisfying([...versions], parseRange(range)) ?? undefined;
}

/**
 * Lists versions for messages, highest first: `"1.2.0, 1.0.0"`, or `"none"` when empty, e.g.
 * `no version of classify.email satisfies ^2 (have: 1.2.0, 1.0.0)`.
 */
export function describeVersions(versions: Iterable<string>): string {
  const valid = [...new Set(versions)].filter((version) => semver.valid(version) !== null);
  return valid.length === 0 ? 'none' : semver.rsort(valid).join(', ');
}
