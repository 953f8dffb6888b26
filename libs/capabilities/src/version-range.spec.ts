import { describe, expect, it } from '@jest/globals';
import { InvalidInputError } from './errors.js';
import { assertValidRange, describeVersions, pickHighest, satisfiesRange } from './version-range.js';

describe('satisfiesRange', () => {
  it.each([
    ['1.2.3', '1.2.3', true],
    ['1.2.4', '1.2.3', false],
    ['1.9.0', '^1.2.0', true],
    ['2.0.0', '^1.2.0', false],
    ['1.2.9', '~1.2.0', true],
    ['1.3.0', '~1.2.0', false],
    ['7.0.0', '*', true],
    ['7.0.0', '', true],
    ['7.0.0', '  ', true],
    ['2.5.0', '>=1 <3', true],
    ['2.0.0-rc.1', '*', false],
    ['2.0.0-rc.1', '^2.0.0-rc.0', true],
    ['not-a-version', '*', false],
  ])('%s against %p is %p', (version, range, expected) => {
    expect(satisfiesRange(version, range)).toBe(expected);
  });

  it('refuses an invalid range with InvalidInputError naming version and the range', () => {
    let error: unknown;
    try {
      satisfiesRange('1.0.0', 'banana');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(
      'version: must be a semver range such as "^1.2.0" (got "banana")',
    );
    expect((error as InvalidInputError).errors).toEqual([
      { path: '/version', message: 'must be a semver range (got "banana")', keyword: 'semverRange' },
    ]);
  });

  it('normalises an empty range to *', () => {
    expect(assertValidRange(' ')).toBe('*');
    expect(assertValidRange('^1')).toBe('^1');
  });
});

describe('pickHighest', () => {
  const versions = ['1.0.0', '1.4.2', '1.10.0', '2.0.0', '2.1.0-beta.1', '3.0.0-rc.1'];

  it('picks the highest matching release', () => {
    expect(pickHighest(versions, '^1.0.0')).toBe('1.10.0');
    expect(pickHighest(versions, '~1.4.0')).toBe('1.4.2');
    expect(pickHighest(versions, '1.0.0')).toBe('1.0.0');
  });

  it('leaves prereleases out unless the range names one', () => {
    expect(pickHighest(versions, '*')).toBe('2.0.0');
    expect(pickHighest(versions, '')).toBe('2.0.0');
    expect(pickHighest(versions, '^2.0.0')).toBe('2.0.0');
    expect(pickHighest(versions, '^3.0.0-rc.0')).toBe('3.0.0-rc.1');
  });

  it('returns undefined when nothing matches', () => {
    expect(pickHighest(versions, '^4')).toBeUndefined();
    expect(pickHighest([], '*')).toBeUndefined();
  });

  it('refuses an invalid range', () => {
    expect(() => pickHighest(versions, '>>1')).toThrow(
      'version: must be a semver range such as "^1.2.0" (got ">>1")',
    );
  });
});

describe('describeVersions', () => {
  it('lists valid versions highest first, once each', () => {
    expect(describeVersions(['1.0.0', '1.10.0', '1.2.0', '1.0.0', 'junk'])).toBe('1.10.0, 1.2.0, 1.0.0');
    expect(describeVersions([])).toBe('none');
  });
});
