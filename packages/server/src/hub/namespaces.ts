// Resolves a channel's namespace options (user configuration over built-in namespaces over defaults).

import { channelNamespace } from '@switchyard/protocol';
import { builtInNamespaces, namespaceDefaults, type NamespaceOptions } from '../options.js';
import type { StreamPolicy } from '../engine/engine.js';

/** Namespace options by channel, cached per namespace. */
export class Namespaces {
  readonly #resolved = new Map<string, Readonly<NamespaceOptions>>();
  readonly #configured: Readonly<Record<string, Partial<NamespaceOptions>>>;
  readonly #idempotencyWindowMs: number;
  readonly #policies = new Map<string, StreamPolicy>();

  constructor(configured: Readonly<Record<string, Partial<NamespaceOptions>>>, idempotencyWindowMs: number) {
    this.#configured = configured;
    this.#idempotencyWindowMs = idempotencyWindowMs;
  }

  /** Options of the namespace that `channel` belongs to. */
  forChannel(channel: string): Readonly<NamespaceOptions> {
    return this.get(channelNamespace(channel));
  }

  /** Options of namespace `name` ('' for channels without a namespace). */
  get(name: string): Readonly<NamespaceOptions> {
    let options = this.#resolved.get(name);
    if (options === undefined) {
      options = Object.freeze({ ...namespaceDefaults, ...builtInNamespaces[name], ...this.#configured[name] });
      this.#resolved.set(name, options);
    }
    return options;
  }

  /** Storage policy for `channel`, for the engine. */
  policy(channel: string): StreamPolicy {
    const name = channelNamespace(channel);
    let policy = this.#policies.get(name);
    if (policy === undefined) {
      const options = this.get(name);
      policy = Object.freeze({ historySize: options.historySize, historyTtlMs: options.historyTtlMs, idempotencyWindowMs: this.#idempotencyWindowMs });
      this.#policies.set(name, policy);
    }
    return policy;
  }

  /** Every namespace with its effective options (configured and built-in). */
  all(): Record<string, Readonly<NamespaceOptions>> {
    const names = new Set(['', ...Object.keys(builtInNamespaces), ...Object.keys(this.#configured)]);
    return Object.fromEntries([...names].map((name) => [name, this.get(name)]));
  }
}
