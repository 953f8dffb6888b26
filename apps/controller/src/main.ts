import { createControllerApp } from './create-controller-app.js';

// Reads env (CRANK_*), starts, and stops cleanly on SIGTERM/SIGINT.
const app = await createControllerApp();
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void app.close().then(() => process.exit(0));
  });
}
