import { jestConfig } from '../../jest.preset.js';

export default {
  ...jestConfig(import.meta.dirname),
  // One suite at a time: each starts its own controller and workers on a 2-core machine.
  maxWorkers: 1,
  // fetch() keeps idle sockets open for a few seconds after the last test; nothing else lingers.
  forceExit: true,
};
