/** The worker's own settings, from its environment. */
export interface StreamingOptions {
  /** CRANK_STREAM_MAX_OPEN: most windows x keys one stream holds open. */
  maxOpenWindows: number;
  /** CRANK_STREAM_HEARTBEAT_MS: a heartbeat record after this long without a closed window. */
  heartbeatMs: number;
}

/** @throws Error naming the variable when a value is not a whole number in range */
export function streamingOptions(env: NodeJS.ProcessEnv = process.env): StreamingOptions {
  return {
    maxOpenWindows: whole(env, 'CRANK_STREAM_MAX_OPEN', 100_000, 1, 10_000_000),
    heartbeatMs: whole(env, 'CRANK_STREAM_HEARTBEAT_MS', 1_000, 10, 3_600_000),
  };
}

function whole(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}: must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return value;
}
