// Picks the engine at start-up: memory by default, Redis when a URL is configured.

import type { SwitchyardOptions } from '../options.js';
import type { Engine } from './engine.js';
import { MemoryEngine } from './memory-engine.js';

/** The engine the options ask for. The Redis engine (and its client library) is loaded only when used. */
export async function createEngine(options: Readonly<SwitchyardOptions>, nodeId: string): Promise<Engine> {
  if (options.redis === undefined) {
    return new MemoryEngine({ nodeId, streamRetentionMs: options.streamRetentionMs, idempotencyMaxKeys: options.idempotencyMaxKeys });
  }
  const { RedisEngine } = await import('./redis-engine.js');
  return new RedisEngine({
    url: options.redis, nodeId, streamRetentionMs: options.streamRetentionMs, presenceTtlMs: options.presenceTtlMs,
  });
}
