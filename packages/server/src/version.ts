// The server package's version, read once from its package.json.

import { readFileSync } from 'node:fs';

/** This package's version (from package.json, which sits one level above both src/ and dist/). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
