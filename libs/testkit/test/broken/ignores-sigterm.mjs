// Broken: a worker process that installs no SIGTERM handler, so SIGTERM ends it at once: calls in
// flight are cut and it never deregisters. Plain Node: '@crank/*' resolve to the packages' dist.
import { DEBUG_ECHO } from '@crank/capabilities';
import { serve, startWorker } from '@crank/worker-runtime';

await startWorker({
  name: 'ignores-sigterm',
  capabilities: [
    serve(DEBUG_ECHO, async (input, ctx) => {
      if (input.delayMs) await new Promise((resolve) => setTimeout(resolve, input.delayMs));
      return { message: input.message, workerId: ctx.workerId, receivedAt: new Date().toISOString() };
    }),
  ],
});
// The bug: no process.once('SIGTERM', () => worker.stop()).
