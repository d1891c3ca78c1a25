import { closeSync, fstatSync, openSync, rmSync, mkdtempSync } from 'node:fs';
import { createServer, connect, Socket, type Server } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { directDescriptor, directlyWritable, writeFrame, writeFrames, writeRest } from './direct-write.js';
import { WriteHelper } from './write-helper.js';

interface Pair {
  /** The server's end, which the tests write to. */
  readonly server: Socket;
  /** The client's end, which reads. */
  readonly client: Socket;
}

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) server.close();
});

/** A TCP connection on loopback, both ends. */
async function socketPair(): Promise<Pair> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const client = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  const serverEnd = await accepted;
  sockets.push(client, serverEnd);
  return { server: serverEnd, client };
}

/** `count` TCP connections on loopback to one server, both ends of each. */
async function socketPairs(count: number): Promise<Pair[]> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: count }, resolve));
  const port = (server.address() as { port: number }).port;
  const byPort = new Map<number, Socket>();
  const allAccepted = new Promise<void>((resolve) => {
    server.on('connection', (accepted: Socket) => {
      sockets.push(accepted);
      byPort.set(accepted.remotePort as number, accepted);
      if (byPort.size === count) resolve();
    });
  });
  const clients = await Promise.all(Array.from({ length: count }, () => new Promise<Socket>((resolve) => {
    const client = connect(port, '127.0.0.1', () => resolve(client));
    sockets.push(client);
  })));
  await allAccepted;
  return clients.map((client) => ({ server: byPort.get(client.localPort as number) as Socket, client }));
}

/** Everything `socket` reads until it has `length` bytes. */
function readBytes(socket: Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve) => {
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      total += chunk.length;
      if (total < length) return;
      socket.off('data', onData);
      resolve(Buffer.concat(chunks));
    };
    socket.on('data', onData);
  });
}

/** A frame of `length` bytes that no other frame of the test repeats: its number, over and over. */
function numberedFrame(number: number, length: number): Buffer {
  const frame = Buffer.alloc(length);
  for (let at = 0; at + 4 <= length; at += 4) frame.writeUInt32BE(number, at);
  return frame;
}

describe('direct writes', () => {
  it('write to the descriptor, past the stream, when the stream holds nothing', async () => {
    const { server, client } = await socketPair();
    const received = readBytes(client, 5);
    expect(writeFrame(server, directDescriptor(server), Buffer.from('hello'))).toBe(true);
    expect((await received).toString()).toBe('hello');
    expect(server.bytesWritten).toBe(0);
  });

  it('go through the stream behind what it holds, so that nothing is overtaken', async () => {
    const { server, client } = await socketPair();
    const fd = directDescriptor(server);
    const received = readBytes(client, 'first second third'.length);
    server.cork();
    server.write('first ');
    expect(writeFrame(server, fd, Buffer.from('second '))).toBe(false);
    writeFrames(server, fd, [Buffer.from('thi'), Buffer.from('rd')]);
    server.uncork();
    expect((await received).toString()).toBe('first second third');
  });

  it('hand what the kernel does not take to the stream, in order, and lose nothing', async () => {
    const { server, client } = await socketPair();
    const fd = directDescriptor(server);
    client.pause();
    const written: Buffer[] = [];
    let number = 0;
    // Until the kernel's buffers are full (a few MiB on loopback) and a frame has been split between them and the stream.
    while (server.writableLength === 0 && number < 4096) {
      const frame = numberedFrame(number++, 65_536 + 3);
      written.push(frame);
      writeFrame(server, fd, frame);
    }
    expect(server.writableLength).toBeGreaterThan(0);
    for (let more = 0; more < 3; more++) {
      const frames = [numberedFrame(number++, 1000), numberedFrame(number++, 70_000)];
      written.push(...frames);
      writeFrames(server, fd, frames);
    }
    const expected = Buffer.concat(written);
    const received = readBytes(client, expected.length);
    client.resume();
    expect((await received).equals(expected)).toBe(true);
  });

  it('write several frames in one call, split wherever the kernel stops taking them', async () => {
    const { server, client } = await socketPair();
    const fd = directDescriptor(server);
    client.pause();
    const written: Buffer[] = [];
    for (let number = 0; server.writableLength === 0 && number < 512; number += 4) {
      const frames = [numberedFrame(number, 3), numberedFrame(number + 1, 90_001), numberedFrame(number + 2, 17), numberedFrame(number + 3, 40_000)];
      written.push(...frames);
      writeFrames(server, fd, frames);
    }
    expect(server.writableLength).toBeGreaterThan(0);
    const expected = Buffer.concat(written);
    const received = readBytes(client, expected.length);
    client.resume();
    expect((await received).equals(expected)).toBe(true);
  });

  it('never write to a descriptor after its socket is destroyed, when the number may belong to another file', async () => {
    const { server } = await socketPair();
    const fd = directDescriptor(server);
    server.destroy();
    const directory = mkdtempSync(join(tmpdir(), 'switchyard-direct-write-'));
    const file = openSync(join(directory, 'reused'), 'w');
    try {
      // The lowest free number is the one the socket gave back, so the file now holds it.
      expect(file).toBe(fd);
      expect(writeFrame(server, fd, Buffer.from('not for this file'))).toBe(false);
      expect(fstatSync(file).size).toBe(0);
    } finally {
      closeSync(file);
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('take no descriptor from a TLS socket, whose bytes must pass through TLS', async () => {
    const { server } = await socketPair();
    expect(directDescriptor(server)).toBeGreaterThanOrEqual(0);
    const tls = new TLSSocket(new Socket());
    sockets.push(tls);
    expect(directDescriptor(tls)).toBe(-1);
  });
});

describe.skipIf(availableParallelism() < 2)('direct writes shared with the helper thread', () => {
  const helpers: WriteHelper[] = [];

  afterEach(async () => {
    for (const helper of helpers.splice(0)) await helper.stop();
  });

  async function startHelper(chunk?: number): Promise<WriteHelper> {
    const failures: Error[] = [];
    const helper = WriteHelper.start(1, (error) => failures.push(error), chunk);
    if (helper === undefined) throw new Error('no helper on a machine with two cores');
    helpers.push(helper);
    for (let waited = 0; !helper.accepts(Buffer.alloc(1)) && waited < 10_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(failures).toEqual([]);
    expect(helper.accepts(Buffer.alloc(1))).toBe(true);
    return helper;
  }

  /** One pass as the transport makes it: directly writable sockets to the helper, the others through `writeFrame`. */
  function pass(helper: WriteHelper, pairs: Pair[], frame: Buffer): number {
    let leftovers = 0;
    helper.begin();
    pairs.forEach(({ server }, index) => {
      const fd = directDescriptor(server);
      if (directlyWritable(server, fd)) helper.add(fd, index);
      else writeFrame(server, fd, frame);
    });
    helper.write(frame, (index, taken) => {
      leftovers++;
      writeRest((pairs[index] as Pair).server, frame, taken);
    });
    return leftovers;
  }

  it('write every socket of a pass once, the helper thread taking a share, in order from pass to pass', async () => {
    const helper = await startHelper();
    const pairs = await socketPairs(1000);
    const frames: Buffer[] = [];
    // Enough passes for the helper to take part on a busy machine, where it may wake after a short pass is over.
    while ((frames.length < 10 || helper.helped === 0) && frames.length < 100) {
      const frame = numberedFrame(frames.length, 240);
      frames.push(frame);
      expect(pass(helper, pairs, frame)).toBe(0);
    }
    expect(helper.helped).toBeGreaterThan(0);
    expect(helper.helped).toBeLessThan(frames.length * pairs.length);
    const expected = Buffer.concat(frames);
    const received = await Promise.all(pairs.map(({ client }) => readBytes(client, expected.length)));
    expect(received.filter((bytes) => bytes.equals(expected)).length).toBe(pairs.length);
  });

  it('hand what the kernel does not take, on either thread, to the stream, and lose nothing', async () => {
    // One descriptor per claim, so that the two threads take turns even in a pass this short.
    const helper = await startHelper(1);
    const pairs = await socketPairs(8);
    for (const { client } of pairs) client.pause();
    const frames: Buffer[] = [];
    let leftovers = 0;
    // Until every socket's kernel buffers are full and the rest waits in its stream.
    while (pairs.some(({ server }) => server.writableLength === 0) && frames.length < 200) {
      const frame = numberedFrame(frames.length, 262_144 + 7);
      frames.push(frame);
      leftovers += pass(helper, pairs, frame);
    }
    expect(leftovers).toBeGreaterThanOrEqual(pairs.length);
    expect(helper.helped).toBeGreaterThan(0);
    const expected = Buffer.concat(frames);
    const received = Promise.all(pairs.map(({ client }) => readBytes(client, expected.length)));
    for (const { client } of pairs) client.resume();
    expect((await received).filter((bytes) => bytes.equals(expected)).length).toBe(pairs.length);
  });

  it('stop: the thread ends, and no pass is shared after it', async () => {
    const helper = await startHelper();
    helpers.splice(helpers.indexOf(helper), 1);
    await helper.stop();
    expect(helper.accepts(Buffer.alloc(1))).toBe(false);
  });

  it('start no helper when the option is 0', () => {
    expect(WriteHelper.start(0, () => undefined)).toBeUndefined();
  });
});
