import { setFlagsFromString } from 'node:v8';

// Imported first by main.ts, so that this runs before anything else is loaded. An mbox streams
// through at 100 MB/s or more, and V8 would grow its young generation to its maximum (2 x 16 MiB)
// and keep it: kept at its starting size, the worker stays well under 200 MB of RSS on a 2 GB
// mbox, and runs no slower (what survives a scavenge is small). V8 reads this flag each time it
// sizes the young generation, which is why setting it at run time, before any growth, works.
setFlagsFromString('--semi-space-growth-factor=1');
