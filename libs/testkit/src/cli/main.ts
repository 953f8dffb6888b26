#!/usr/bin/env node
// The `crank-conformance` process: wires argv, stdout, stderr and the exit status to
// runConformanceCli (conformance-cli.ts), where the modes, options and output live.
import { runConformanceCli } from './conformance-cli.js';

runConformanceCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`crank-conformance: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
