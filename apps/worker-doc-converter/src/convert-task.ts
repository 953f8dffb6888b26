/**
 * What each converter thread runs (see `threadRunner`): one conversion per call. It is loaded by
 * path in the thread, so it exports exactly the task function.
 */
export { convert as default } from './conversion.js';
