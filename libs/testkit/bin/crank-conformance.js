#!/usr/bin/env node
// Entry point of the `crank-conformance` command. Kept as plain JavaScript outside dist/ (like the
// `crank` CLI's bin/crank.js) so that npm links it on install, before anything is built; the CLI
// itself is compiled to dist/cli/main.js.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(main)) {
  await import(main.href);
} else {
  process.stderr.write('crank-conformance: @crank/testkit is not built yet; run `npm run build` first.\n');
  process.exitCode = 1;
}
