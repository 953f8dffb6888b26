type DateTimeFormatConstructor = typeof Intl.DateTimeFormat;

/**
 * Runs `load` (the import of an app's modules) while `Intl.DateTimeFormat` hands out stand-ins
 * that build the real formatter on first use, then puts the original back, whether `load`
 * succeeds or not. Formatters made after `load` are real ones.
 *
 * NestJS's logger modules each build a formatter when they are evaluated. The first one maps ICU's
 * locale and calendar data and allocates the formatter: 8 to 10 MB of a process's idle RSS, for a
 * console logger that the controller never uses (it logs through pino) and a worker uses for
 * Nest's own warnings and errors only.
 *
 * @example
 * ```ts
 * const { NestFactory, AppModule } = await withDeferredDateFormats(async () => ({
 *   ...(await import('@nestjs/core')),
 *   ...(await import('./app.module.js')),
 * }));
 * ```
 */
export async function withDeferredDateFormats<T>(load: () => Promise<T>): Promise<T> {
  const Real = Intl.DateTimeFormat;
  const deferred = function DateTimeFormat(
    ...args: ConstructorParameters<DateTimeFormatConstructor>
  ): Intl.DateTimeFormat {
    let real: Intl.DateTimeFormat | undefined;
    const target = (): Intl.DateTimeFormat => (real ??= new Real(...args));
    // Prototype kept, so that `instanceof Intl.DateTimeFormat` holds once the original is back.
    return new Proxy(Object.create(Real.prototype) as Intl.DateTimeFormat, {
      get: (shape, key) => {
        // What a formatter does not have (`then`, looked up by `await`) builds nothing.
        if (!(key in shape)) return undefined;
        const value: unknown = Reflect.get(target(), key);
        return typeof value === 'function' ? (value as () => unknown).bind(target()) : value;
      },
    });
  } as unknown as DateTimeFormatConstructor;
  Object.defineProperties(deferred, {
    prototype: { value: Real.prototype },
    supportedLocalesOf: { value: Real.supportedLocalesOf.bind(Real) },
  });
  const intl = Intl as { DateTimeFormat: DateTimeFormatConstructor };
  intl.DateTimeFormat = deferred;
  try {
    return await load();
  } finally {
    intl.DateTimeFormat = Real;
  }
}
