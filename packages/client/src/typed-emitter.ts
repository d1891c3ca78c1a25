// A minimal typed event emitter whose on() returns its own unsubscribe function (browser and Node).

/** Removes the handler it was returned for; calling it twice is harmless. */
export type Unsubscribe = () => void;

/** Events keyed by name, each with one payload type. */
export class TypedEmitter<Events extends object> {
  readonly #handlers = new Map<keyof Events, Set<(payload: never) => void>>();

  /** Call `handler` for every `event`; returns the function that stops it. */
  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): Unsubscribe {
    let set = this.#handlers.get(event);
    if (set === undefined) {
      set = new Set();
      this.#handlers.set(event, set);
    }
    const entry = handler as (payload: never) => void;
    set.add(entry);
    return () => {
      this.#handlers.get(event)?.delete(entry);
    };
  }

  /** Whether anything listens to `event` (to skip building payloads nobody reads). */
  listens(event: keyof Events): boolean {
    return (this.#handlers.get(event)?.size ?? 0) > 0;
  }

  /**
   * Call every handler of `event`. A handler that throws does not stop the others nor break the
   * client's state machine: its error is re-thrown on a fresh task, like an EventTarget listener's.
   */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.#handlers.get(event);
    if (set === undefined || set.size === 0) return;
    for (const handler of [...set]) {
      try {
        (handler as (payload: Events[K]) => void)(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Forget every handler. */
  clear(): void {
    this.#handlers.clear();
  }
}
