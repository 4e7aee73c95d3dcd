// The stable ids of the emulator's routes (fault rules and stats use them).

/** Routes of the Gemini API the emulator serves (every one can be given faults). */
export const API_ROUTE_IDS = [
  'upload.start',
  'upload.chunk',
  'files.get',
  'files.list',
  'files.delete',
  'files.download',
  'batches.create',
  'batches.createEmbeddings',
  'batches.get',
  'batches.list',
  'batches.cancel',
  'batches.delete',
  'models.generateContent',
  'models.countTokens',
  'models.embedContent',
] as const;

/** Every route the emulator serves, by a stable id (fault rules and stats use these ids). */
export type RouteId = (typeof API_ROUTE_IDS)[number] | 'emulator.stats';

export const CREATE_ROUTES: ReadonlySet<RouteId> = new Set(['batches.create', 'batches.createEmbeddings']);
