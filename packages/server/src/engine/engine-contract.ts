// The engine contract: one test suite that every Engine implementation runs (memory, Redis).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClientInfo, Publication } from '@switchyard/protocol';
import type { Engine, EngineHandler, StreamPolicy } from './engine.js';

/** Every event an engine delivered, in arrival order; direct routing answers from its own connection index. */
export class RecordingHandler implements EngineHandler {
  readonly publications: Array<{ channel: string; publication: Publication; ephemeral: boolean }> = [];
  readonly joins: Array<{ channel: string; member: ClientInfo }> = [];
  readonly leaves: Array<{ channel: string; member: ClientInfo }> = [];
  readonly broadcasts: Array<{ data: unknown; channel: string | undefined }> = [];
  readonly directs: Array<{ to: string; from: string; data: unknown }> = [];
  readonly availability: boolean[] = [];
  /** Local connections, as `clientId` → `userId`. */
  readonly connections = new Map<string, string | undefined>();

  onPublication(channel: string, publication: Publication, ephemeral: boolean): void {
    this.publications.push({ channel, publication, ephemeral });
  }

  onJoin(channel: string, member: ClientInfo): void {
    this.joins.push({ channel, member });
  }

  onLeave(channel: string, member: ClientInfo): void {
    this.leaves.push({ channel, member });
  }

  onBroadcast(data: unknown, channel: string | undefined): number {
    this.broadcasts.push({ data, channel });
    return this.connections.size;
  }

  onDirect(to: string, from: string, data: unknown): number {
    const matches = [...this.connections].filter(([clientId, userId]) => clientId === to || userId === to).length;
    if (matches > 0) this.directs.push({ to, from, data });
    return matches;
  }

  onAvailability(available: boolean): void {
    this.availability.push(available);
  }

  /** Publications received on `channel`. */
  on(channel: string): Publication[] {
    return this.publications.filter((item) => item.channel === channel).map((item) => item.publication);
  }
}

/** Wait until `check` holds (polling), or fail after `timeoutMs` naming `what`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const policy: StreamPolicy = Object.freeze({ historySize: 100, historyTtlMs: 60_000, idempotencyWindowMs: 60_000 });

function offsets(publications: Publication[]): number[] {
  return publications.map((publication) => publication.offset);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

/**
 * Register the contract suite for one engine implementation. `makeEngine` returns a fresh, unstarted
 * engine with no state shared with earlier ones (for Redis: its own key prefix).
 */
export function runEngineContract(name: string, makeEngine: () => Engine): void {
  describe(`${name} engine contract`, () => {
    let engine: Engine;
    let handler: RecordingHandler;
    let counter = 0;
    const channel = (): string => `contract-${++counter}`;

    async function publishMany(target: string, count: number, streamPolicy = policy): Promise<void> {
      for (let index = 1; index <= count; index++) await engine.publish({ channel: target, data: { n: index } }, streamPolicy);
    }

    beforeEach(async () => {
      engine = makeEngine();
      handler = new RecordingHandler();
      await engine.start(handler);
    });

    afterEach(async () => {
      await engine.close();
    });

    describe('publish', () => {
      it('numbers publications 1, 2, 3… without gaps or repeats under concurrent publishes', async () => {
        const target = channel();
        const results = await Promise.all(range(1, 60).map((n) => engine.publish({ channel: target, data: n }, policy)));
        expect(results.map((result) => result.offset).sort((a, b) => a - b)).toEqual(range(1, 60));
        expect(new Set(results.map((result) => result.epoch)).size).toBe(1);
        expect(results.every((result) => !result.duplicate)).toBe(true);
        expect(await engine.position(target)).toEqual({ offset: 60, epoch: results[0]!.epoch });
      });

      it('keeps the epoch a position read created for a channel never published to', async () => {
        const target = channel();
        const before = await engine.position(target);
        expect(before.offset).toBe(0);
        expect(before.epoch).toMatch(/^\S+$/);
        const result = await engine.publish({ channel: target, data: 'first' }, policy);
        expect(result).toEqual({ offset: 1, epoch: before.epoch, duplicate: false });
      });

      it('delivers publications to onPublication in offset order, with their fields', async () => {
        const target = channel();
        await engine.subscribe(target);
        await Promise.all(range(1, 40).map((n) => engine.publish({ channel: target, data: { n }, event: 'tick', from: 'u1' }, policy)));
        await eventually(() => handler.on(target).length === 40, '40 publications arrived');
        const received = handler.on(target);
        expect(offsets(received)).toEqual(range(1, 40));
        const first = received[0]!;
        expect(first.event).toBe('tick');
        expect(first.from).toBe('u1');
        expect(typeof first.timestamp).toBe('number');
        expect(handler.publications.every((item) => !item.ephemeral)).toBe(true);
      });

      it('delivers only channels this node subscribed to', async () => {
        const wanted = channel();
        const unwanted = channel();
        const dropped = channel();
        await engine.subscribe(wanted);
        await engine.subscribe(dropped);
        await engine.unsubscribe(dropped);
        await engine.publish({ channel: unwanted, data: 'no' }, policy);
        await engine.publish({ channel: dropped, data: 'no' }, policy);
        await engine.publish({ channel: wanted, data: 'yes' }, policy);
        await eventually(() => handler.on(wanted).length === 1, 'the wanted publication arrived');
        // Publications arrive in publish order, so anything from the other channels would be here by now.
        expect(handler.publications.map((item) => item.channel)).toEqual([wanted]);
      });

      it('acks a repeated idempotency key with the first position and delivers it once', async () => {
        const target = channel();
        await engine.subscribe(target);
        const first = await engine.publish({ channel: target, data: 'once', key: 'k1' }, policy);
        const again = await engine.publish({ channel: target, data: 'once', key: 'k1' }, policy);
        const other = await engine.publish({ channel: target, data: 'next' }, policy);
        expect(first).toEqual({ offset: 1, epoch: first.epoch, duplicate: false });
        expect(again).toEqual({ offset: 1, epoch: first.epoch, duplicate: true });
        expect(other.offset).toBe(2);
        await eventually(() => handler.on(target).length >= 2, 'two publications arrived');
        expect(handler.on(target).map((publication) => publication.data)).toEqual(['once', 'next']);
      });

      it('delivers ephemeral publications without advancing the offset or keeping them in history', async () => {
        const target = channel();
        await engine.subscribe(target);
        await engine.publish({ channel: target, data: 'kept' }, policy);
        const ephemeral = await engine.publish({ channel: target, data: 'fleeting', ephemeral: true }, policy);
        const next = await engine.publish({ channel: target, data: 'kept too' }, policy);
        expect(ephemeral.offset).toBe(1);
        expect(next.offset).toBe(2);
        await eventually(() => handler.on(target).length === 3, 'three publications arrived');
        expect(handler.publications.map((item) => [item.publication.data, item.ephemeral])).toEqual([['kept', false], ['fleeting', true], ['kept too', false]]);
        const history = await engine.history(target, { limit: 10 }, policy);
        expect(history.publications.map((publication) => publication.data)).toEqual(['kept', 'kept too']);
      });

      it('advances the offset but keeps nothing when historySize is 0', async () => {
        const target = channel();
        const noHistory = { ...policy, historySize: 0 };
        await publishMany(target, 3, noHistory);
        const history = await engine.history(target, { limit: 10 }, noHistory);
        expect(history.publications).toEqual([]);
        expect(history.offset).toBe(3);
      });
    });

    describe('history', () => {
      it('returns the newest `limit` publications, oldest first, with the current position', async () => {
        const target = channel();
        await publishMany(target, 10);
        const history = await engine.history(target, { limit: 3 }, policy);
        expect(offsets(history.publications)).toEqual([8, 9, 10]);
        expect(history.publications.map((publication) => publication.data)).toEqual([{ n: 8 }, { n: 9 }, { n: 10 }]);
        expect(history.offset).toBe(10);
        expect(history.publications.every((publication) => publication.epoch === history.epoch)).toBe(true);
      });

      it('returns the newest first when reverse is set', async () => {
        const target = channel();
        await publishMany(target, 10);
        const history = await engine.history(target, { limit: 3, reverse: true }, policy);
        expect(offsets(history.publications)).toEqual([10, 9, 8]);
      });

      it('returns the oldest `limit` publications after `since`', async () => {
        const target = channel();
        await publishMany(target, 10);
        const { epoch } = await engine.position(target);
        const history = await engine.history(target, { limit: 3, since: { offset: 4, epoch } }, policy);
        expect(offsets(history.publications)).toEqual([5, 6, 7]);
      });

      it('reads from the start of the stream when `since` names another epoch', async () => {
        const target = channel();
        await publishMany(target, 5);
        const history = await engine.history(target, { limit: 2, since: { offset: 4, epoch: 'another-epoch' } }, policy);
        expect(offsets(history.publications)).toEqual([1, 2]);
      });

      it('keeps at most historySize publications', async () => {
        const target = channel();
        const small = { ...policy, historySize: 5 };
        await publishMany(target, 8, small);
        const history = await engine.history(target, { limit: 100 }, small);
        expect(offsets(history.publications)).toEqual([4, 5, 6, 7, 8]);
      });

      it('drops publications older than historyTtlMs', async () => {
        const target = channel();
        const shortLived = { ...policy, historyTtlMs: 150 };
        await publishMany(target, 2, shortLived);
        await new Promise((resolve) => setTimeout(resolve, 300));
        await engine.publish({ channel: target, data: { n: 3 } }, shortLived);
        const history = await engine.history(target, { limit: 100 }, shortLived);
        expect(offsets(history.publications)).toEqual([3]);
      });
    });

    describe('recover', () => {
      it('recovers exactly the publications after `since`', async () => {
        const target = channel();
        await publishMany(target, 5);
        const { epoch } = await engine.position(target);
        const result = await engine.recover(target, { offset: 2, epoch }, policy);
        expect(result.recovered).toBe(true);
        expect(result.offset).toBe(5);
        expect(result.recovered && offsets(result.publications)).toEqual([3, 4, 5]);
        expect(result.recovered && result.publications.map((publication) => publication.data)).toEqual([{ n: 3 }, { n: 4 }, { n: 5 }]);
      });

      it('recovers nothing, successfully, when nothing was missed', async () => {
        const target = channel();
        await publishMany(target, 3);
        const position = await engine.position(target);
        expect(await engine.recover(target, position, policy)).toEqual({ ...position, recovered: true, publications: [] });
      });

      it('answers history_trimmed when more were published than history keeps', async () => {
        const target = channel();
        const small = { ...policy, historySize: 3 };
        await publishMany(target, 6, small);
        const { epoch } = await engine.position(target);
        expect(await engine.recover(target, { offset: 1, epoch }, small)).toEqual({ offset: 6, epoch, recovered: false, reason: 'history_trimmed' });
        const withinHistory = await engine.recover(target, { offset: 3, epoch }, small);
        expect(withinHistory.recovered && offsets(withinHistory.publications)).toEqual([4, 5, 6]);
      });

      it('answers history_expired when the missed publications aged out', async () => {
        const target = channel();
        const shortLived = { ...policy, historyTtlMs: 150 };
        await publishMany(target, 2, shortLived);
        const { epoch } = await engine.position(target);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(await engine.recover(target, { offset: 0, epoch }, shortLived)).toEqual({ offset: 2, epoch, recovered: false, reason: 'history_expired' });
      });

      it('answers epoch_changed for another epoch or an offset beyond the stream', async () => {
        const target = channel();
        await publishMany(target, 2);
        const { epoch } = await engine.position(target);
        expect(await engine.recover(target, { offset: 1, epoch: 'another-epoch' }, policy)).toEqual({ offset: 2, epoch, recovered: false, reason: 'epoch_changed' });
        expect(await engine.recover(target, { offset: 9, epoch }, policy)).toEqual({ offset: 2, epoch, recovered: false, reason: 'epoch_changed' });
      });

      it('answers history_disabled when the channel keeps no history', async () => {
        const target = channel();
        const noHistory = { ...policy, historySize: 0 };
        await publishMany(target, 2, noHistory);
        const { epoch } = await engine.position(target);
        expect(await engine.recover(target, { offset: 1, epoch }, noHistory)).toEqual({ offset: 2, epoch, recovered: false, reason: 'history_disabled' });
      });
    });

    describe('presence', () => {
      const alice: ClientInfo = { clientId: 'c-alice', userId: 'alice', info: { color: 'red' } };
      const bob: ClientInfo = { clientId: 'c-bob' };

      it('adds, lists and removes members', async () => {
        const target = channel();
        await engine.addPresence(target, alice);
        await engine.addPresence(target, bob);
        const members = await engine.presence(target);
        expect(members.sort((a, b) => a.clientId.localeCompare(b.clientId))).toEqual([alice, bob]);
        await engine.removePresence(target, alice);
        expect(await engine.presence(target)).toEqual([bob]);
        expect(await engine.presence(channel())).toEqual([]);
      });

      it('announces a join once per member and a leave on removal', async () => {
        const target = channel();
        await engine.subscribe(target);
        await engine.addPresence(target, alice);
        await engine.addPresence(target, alice);
        await engine.removePresence(target, alice);
        await eventually(() => handler.leaves.length === 1, 'the leave arrived');
        expect(handler.joins).toEqual([{ channel: target, member: alice }]);
        expect(handler.leaves).toEqual([{ channel: target, member: alice }]);
      });

      it('announces nothing when an absent member is removed', async () => {
        const target = channel();
        await engine.subscribe(target);
        await engine.removePresence(target, alice);
        await engine.addPresence(target, bob);
        await eventually(() => handler.joins.length === 1, 'the join arrived');
        expect(handler.leaves).toEqual([]);
      });
    });

    describe('broadcast and direct', () => {
      it('delivers a broadcast to this node and resolves with its deliveries', async () => {
        handler.connections.set('c1', undefined);
        engine.connectionOpened('c1', undefined);
        expect(await engine.broadcast({ notice: 'hello' }, undefined)).toBe(1);
        await engine.broadcast('to one channel', 'news');
        expect(handler.broadcasts).toEqual([{ data: { notice: 'hello' }, channel: undefined }, { data: 'to one channel', channel: 'news' }]);
      });

      it('answers 0 for a direct message that matches no connection', async () => {
        expect(await engine.direct('nobody', 'server', 'hi')).toBe(0);
        expect(handler.directs).toEqual([]);
      });

      it('delivers a direct message by userId or clientId and answers more than 0', async () => {
        handler.connections.set('c1', 'u1');
        engine.connectionOpened('c1', 'u1');
        expect(await engine.direct('u1', 'server', 'by user')).toBeGreaterThan(0);
        expect(await engine.direct('c1', 'server', 'by client')).toBeGreaterThan(0);
        expect(handler.directs).toEqual([{ to: 'u1', from: 'server', data: 'by user' }, { to: 'c1', from: 'server', data: 'by client' }]);
      });
    });

    describe('nodes', () => {
      it('is ready once started and lists this node with its connection count', async () => {
        expect(engine.ready).toBe(true);
        const nodes = await engine.nodes(3);
        expect(nodes.find((node) => node.id === engine.nodeId)).toEqual({ id: engine.nodeId, connections: 3, lastSeenMs: 0 });
      });
    });
  });
}
