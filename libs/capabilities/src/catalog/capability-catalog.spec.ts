import { describe, expect, it } from '@jest/globals';
import { defineCapability } from '../capability-definition.js';
import { CapabilityError, InvalidInputError, NotFoundError } from '../errors.js';
import { CapabilityCatalog } from './capability-catalog.js';

const version = (id: string, v: string) =>
  defineCapability({ id, version: v, inputSchema: true, outputSchema: true });

const catalog = new CapabilityCatalog([
  version('resize.image', '1.0.0'),
  version('resize.image', '1.3.0'),
  version('resize.image', '2.0.0-beta.1'),
  version('crop.image', '1.0.0'),
]);

describe('CapabilityCatalog', () => {
  it('finds the highest version in a range', () => {
    expect(catalog.find('resize.image')?.version).toBe('1.3.0');
    expect(catalog.find('resize.image', '~1.0')?.version).toBe('1.0.0');
    expect(catalog.find('resize.image', '^2.0.0-beta.0')?.version).toBe('2.0.0-beta.1');
    expect(catalog.find('resize.image', '^3')).toBeUndefined();
    expect(catalog.find('nope.nope')).toBeUndefined();
  });

  it('lists ids sorted and entries by id, highest version first', () => {
    expect(catalog.ids()).toEqual(['crop.image', 'resize.image']);
    expect(catalog.entries().map((capability) => capability.key)).toEqual([
      'crop.image@1.0.0',
      'resize.image@2.0.0-beta.1',
      'resize.image@1.3.0',
      'resize.image@1.0.0',
    ]);
    expect(catalog.versions('resize.image')).toEqual(['2.0.0-beta.1', '1.3.0', '1.0.0']);
  });

  it('get throws NotFoundError naming the id, range and versions', () => {
    expect(() => catalog.get('resize.image', '^3')).toThrow(
      new NotFoundError(
        'no version of "resize.image" satisfies "^3" (catalog has: 2.0.0-beta.1, 1.3.0, 1.0.0)',
      ),
    );
    expect(() => catalog.get('nope.nope')).toThrow(NotFoundError);
    expect(() => catalog.get('nope.nope')).toThrow('capability "nope.nope" is not in the catalog');
  });

  it('refuses an invalid range', () => {
    expect(() => catalog.find('resize.image', 'one')).toThrow(InvalidInputError);
  });

  it('refuses the same id@version twice', () => {
    expect(() => new CapabilityCatalog([version('a.b', '1.0.0'), version('a.b', '1.0.0')])).toThrow(
      new CapabilityError('ALREADY_EXISTS', 'catalog: a.b@1.0.0 is listed twice'),
    );
  });
});
