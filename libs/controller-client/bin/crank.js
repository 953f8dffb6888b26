#!/usr/bin/env node
// Entry point of the `crank` CLI. Kept as plain JavaScript outside dist/ so that npm links it on
// install, before anything is built; the CLI itself is compiled to dist/cli/main.js.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(main)) {
  await import(main.href);
} else {
  process.stderr.write('crank: the CLI is not built yet; run `npm run build` (or `npm start`) first.\n');
  process.exitCode = 1;
}
