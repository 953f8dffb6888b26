import { afterEach, describe, expect, it } from '@jest/globals';
import { withDeferredDateFormats } from './deferred-date-formats.js';

const Original = Intl.DateTimeFormat;

/** Installs a DateTimeFormat that counts the formatters it builds. */
function countingFormats(): { built: number } {
  const counter = { built: 0 };
  class Counting extends Original {
    constructor(...args: ConstructorParameters<typeof Original>) {
      super(...args);
      counter.built++;
    }
  }
  // A class cannot be called without `new`, which the type asks for; nothing here calls it so.
  (Intl as { DateTimeFormat: unknown }).DateTimeFormat = Counting;
  return counter;
}

const options: Intl.DateTimeFormatOptions = {
  timeZone: 'UTC',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: 'numeric',
  minute: 'numeric',
};

describe('withDeferredDateFormats', () => {
  afterEach(() => {
    (Intl as { DateTimeFormat: typeof Original }).DateTimeFormat = Original;
  });

  it('builds a formatter made during the load on its first use, and formats as a real one', async () => {
    const counter = countingFormats();
    const Installed = Intl.DateTimeFormat;
    const early = await withDeferredDateFormats(async () => new Intl.DateTimeFormat('en-US', options));
    expect(counter.built).toBe(0);
    expect(Intl.DateTimeFormat).toBe(Installed);

    const at = Date.UTC(2026, 10, 29, 6, 30);
    expect(early.format(at)).toBe(new Original('en-US', options).format(at));
    expect(early.formatToParts(at)).toEqual(new Original('en-US', options).formatToParts(at));
    expect(early.resolvedOptions().timeZone).toBe('UTC');
    expect(early).toBeInstanceOf(Intl.DateTimeFormat);
    expect(counter.built).toBe(1);
    // A function taken off the formatter keeps working on its own, as `format` does on a real one.
    const { format } = early;
    expect(format(at)).toBe(early.format(at));
    expect(counter.built).toBe(1);
  });

  it('puts the original back when the load fails', async () => {
    const Installed = Intl.DateTimeFormat;
    await expect(withDeferredDateFormats(() => Promise.reject(new Error('cannot load')))).rejects.toThrow(
      'cannot load',
    );
    expect(Intl.DateTimeFormat).toBe(Installed);
    expect(Intl.DateTimeFormat.supportedLocalesOf(['en-US'])).toEqual(['en-US']);
  });

  it('keeps supportedLocalesOf while loading', async () => {
    const locales = await withDeferredDateFormats(async () =>
      Intl.DateTimeFormat.supportedLocalesOf(['en-US']),
    );
    expect(locales).toEqual(['en-US']);
  });
});
