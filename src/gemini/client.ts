// The SDK client a stage uses when the caller passes none: the real Gemini API, keyed from the
// environment. Refusing early here beats a 401 from every request later.

import { GoogleGenAI } from '@google/genai';
import { GbsError } from '../errors.js';

/** A client for the Gemini API from `GEMINI_API_KEY` / `GOOGLE_API_KEY`; GBS_NO_API_KEY without one. */
export function defaultClient(): GoogleGenAI {
  if (!process.env.GEMINI_API_KEY && !process.env.GOOGLE_API_KEY) {
    throw new GbsError(
      'GBS_NO_API_KEY',
      'No API key: set GEMINI_API_KEY, or pass `client` (e.g. new GoogleGenAI(emulator.clientOptions()) for the local emulator).',
    );
  }
  return new GoogleGenAI({});
}
