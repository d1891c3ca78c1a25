// Preloaded (--import) into every benchmarked server: answers the harness's IPC request for a
// garbage-collected memory reading. Bench-only; the servers themselves know nothing of it.
// @ts-check

/** @param {number} ms */
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

process.on('message', (message) => {
  const request = /** @type {{ benchGc?: number; benchHeapSnapshot?: string }} */ (message);
  // For digging into memory per connection by hand (see docs/performance.md); no scenario uses it.
  if (typeof request?.benchHeapSnapshot === 'string') {
    void import('node:v8').then((v8) => process.send?.({ benchHeapSnapshotDone: v8.writeHeapSnapshot(request.benchHeapSnapshot) }));
    return;
  }
  if (typeof request !== 'object' || request === null || typeof request.benchGc !== 'number') return;
  const id = request.benchGc;
  void (async () => {
    const collect = /** @type {(() => void) | undefined} */ (globalThis.gc);
    // Two rounds with a pause: finalizers and weak callbacks of the first round free more in the second.
    for (let round = 0; round < 2; round++) {
      collect?.();
      await pause(100);
    }
    const usage = process.memoryUsage();
    process.send?.({ benchGcDone: id, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, rss: usage.rss, gc: collect !== undefined });
  })();
});
// The IPC channel must not keep a server alive that was asked to stop, and a server whose harness
// went away (crashed, killed) stops too instead of lingering.
process.channel?.unref();
process.on('disconnect', () => process.exit(0));
