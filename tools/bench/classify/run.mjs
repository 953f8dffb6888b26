#!/usr/bin/env node
// `npm run bench:classify`: the email and the image classification benchmarks, one after the
// other (each starts its own controller and worker, so they never share the cores). Arguments
// after `--` go to both (e.g. `-- --seconds 5`). Exits 1 when either misses its target.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
let status = 0;
for (const bench of ['email.mjs', 'image.mjs']) {
  console.log(`\n==> ${bench}`);
  const run = spawnSync(process.execPath, [join(here, bench), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (run.status !== 0) status = 1;
}
process.exit(status);
