// Picks the engine at start-up: memory by default, Redis when a URL is configured.

import type { SwitchyardOptions } from '../options.js';
import type { Engine } from './engine.js';
import { MemoryEngine } from './memory-engine.js';

/** The engine the options ask for. The Redis engine is loaded only when used. */
export async function createEngine(options: Readonly<SwitchyardOptions>, nodeId: string): Promise<Engine> {
  if (options.redis === undefined) {
    return new MemoryEngine({ nodeId, streamRetentionMs: options.streamRetentionMs, idempotencyMaxKeys: options.idempotencyMaxKeys });
  }
  throw new TypeError('redis: the Redis engine is not available in this build');
}
