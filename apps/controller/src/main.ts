import { createControllerApp } from './create-controller-app.js';

// Reads env (CRANK_*), starts, and stops cleanly on SIGTERM/SIGINT. The app owns the process:
// once close() is done it exits at once rather than wait for library timers to lapse.
const app = await createControllerApp();
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void app.close().then(() => process.exit(0));
  });
}
