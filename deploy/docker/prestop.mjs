// The preStop hook of worker pods: starts the worker's drain before Kubernetes sends SIGTERM, and
// returns once the worker has exited or CRANK_DRAIN_MS (+ 5 s) has passed. The worker stops as on
// SIGTERM: NOT_SERVING, a draining heartbeat, Deregister, calls in flight finish within
// CRANK_DRAIN_MS. The pod's terminationGracePeriodSeconds counts this hook, so it must exceed the
// drain (tools/check-deploy.mjs checks that). PID 1 is tini, which forwards the signal.
import { pathToFileURL } from 'node:url';
import { checkHealth, healthUrl } from './healthcheck.mjs';

const SLACK_MS = 5000;

/**
 * Signals `pid` and waits until the app's /health stops answering at all (the process is gone),
 * or the drain deadline passes. Resolves with what happened.
 */
export async function drain({ env, pid = 1, signal = process.kill, pollMs = 250 }) {
  const drainMs = Number(env.CRANK_DRAIN_MS ?? 30000);
  const deadline = Date.now() + drainMs + SLACK_MS;
  signal(pid, 'SIGTERM');
  const url = healthUrl(env);
  while (Date.now() < deadline) {
    if (!(await answers(url))) return 'stopped';
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return 'deadline';
}

/** Whether anything answers on `url` (200 serving or 503 draining both count). */
function answers(url) {
  return fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    () => false,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await drain({ env: process.env });
}
