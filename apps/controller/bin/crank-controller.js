#!/usr/bin/env node
// Entry point of the `crank-controller` command. Kept as plain JavaScript outside dist/ (like the
// `crank` CLI's bin/crank.js) so that npm links it on install, before anything is built; the
// controller itself is compiled to dist/main.js, which reads CRANK_* env and listens.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (existsSync(main)) {
  await import(main.href);
} else {
  process.stderr.write('crank-controller: the controller is not built yet; run `npm run build` first.\n');
  process.exitCode = 1;
}
