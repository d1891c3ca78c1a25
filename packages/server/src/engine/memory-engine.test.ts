// The memory engine against the shared engine contract, and what only it does: history is taken after the tick.

import { describe, expect, it } from 'vitest';
import { MemoryEngine } from './memory-engine.js';
import { runEngineContract } from './engine-contract.js';
import type { EngineHandler, StreamPolicy } from './engine.js';

runEngineContract('MemoryEngine', () => new MemoryEngine());

const policy: StreamPolicy = Object.freeze({ historySize: 100, historyTtlMs: 60_000, idempotencyWindowMs: 60_000 });
const quiet: EngineHandler = {
  onPublication: () => undefined, onJoin: () => undefined, onLeave: () => undefined, onBroadcast: () => 0, onDirect: () => 0, onAvailability: () => undefined,
};

describe('MemoryEngine history, taken after the fan-out', () => {
  it('answers a read in the same tick as the publications with all of them', async () => {
    const engine = new MemoryEngine();
    await engine.start(quiet);
    for (let n = 1; n <= 3; n++) engine.publishNow({ channel: 'c', data: n }, policy);
    // Both reads start in this tick: their bodies run before the engine's scheduled keep (a process.nextTick) could.
    const history = engine.history('c', { limit: 10 }, policy);
    const recovery = engine.recover('c', { offset: 1, epoch: (await engine.position('c')).epoch }, policy);
    expect((await history).publications.map((publication) => publication.data)).toEqual([1, 2, 3]);
    expect(await recovery).toMatchObject({ recovered: true, offset: 3, publications: [{ offset: 2 }, { offset: 3 }] });
    await engine.close();
  });

  it('keeps at most historySize of the publications of one tick', async () => {
    const engine = new MemoryEngine();
    await engine.start(quiet);
    for (let n = 1; n <= 150; n++) engine.publishNow({ channel: 'c', data: n }, policy);
    await Promise.resolve();
    const { publications } = await engine.history('c', { limit: 1000 }, policy);
    expect(publications.map((publication) => publication.offset)).toEqual(Array.from({ length: 100 }, (_, index) => 51 + index));
    expect(await engine.recover('c', { offset: 10, epoch: publications[0]!.epoch }, policy)).toMatchObject({ recovered: false, reason: 'history_trimmed' });
    await engine.close();
  });

  it('keeps nothing when history is off, and says so', async () => {
    const engine = new MemoryEngine();
    await engine.start(quiet);
    const off: StreamPolicy = { ...policy, historySize: 0 };
    const { epoch } = engine.publishNow({ channel: 'c', data: 'x' }, off);
    engine.publishNow({ channel: 'c', data: 'y' }, off);
    expect((await engine.history('c', { limit: 10 }, off)).publications).toEqual([]);
    expect(await engine.recover('c', { offset: 1, epoch }, off)).toMatchObject({ recovered: false, reason: 'history_disabled' });
    await engine.close();
  });
});
