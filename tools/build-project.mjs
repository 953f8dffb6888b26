#!/usr/bin/env node
// Builds the project in the current directory: a clean `tsc -p tsconfig.build.json` into dist/.
// Cleaning first keeps files of deleted sources out of published tarballs.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
