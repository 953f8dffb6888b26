import { DEBUG_ECHO, defineCapability, type DebugEchoInput, type DebugEchoOutput } from '@crank/capabilities';

/**
 * `debug.echo` as this worker declares it: the catalog contract with more slots, since the
 * handler only waits on timers (`CRANK_ECHO_CONCURRENCY`, default 64).
 */
export const ECHO = defineCapability<DebugEchoInput, DebugEchoOutput>({
  ...DEBUG_ECHO.definition,
  resources: {
    ...DEBUG_ECHO.definition.resources,
    maxConcurrency: Number(process.env['CRANK_ECHO_CONCURRENCY'] ?? 64),
  },
});
