// Public API of gemini-batch-stream: stages composed with `stream/promises` `pipeline`.
// The emulator has its own entry point: `gemini-batch-stream/emulator`.

export type { GbsErrorCode, GbsErrorContext } from './errors.js';
export { GbsError } from './errors.js';
