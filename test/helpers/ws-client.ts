// A small raw-`ws` test client: speaks the protocol by hand (as a third-party client would) and awaits replies.

import WebSocket, { type ClientOptions } from 'ws';

/** A decoded server frame. */
export type Frame = Record<string, unknown> & { type: string };

/** A raw protocol client for tests. */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  #nextId = 1;
  #waiters: Array<{ test: (frame: Frame) => boolean; resolve: (frame: Frame) => void }> = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly welcome: Promise<Frame>;

  constructor(url: string, options: ClientOptions = {}, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols, options);
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      const ready = this.#waiters.filter((waiter) => waiter.test(frame));
      this.#waiters = this.#waiters.filter((waiter) => !ready.includes(waiter));
      for (const waiter of ready) waiter.resolve(frame);
    });
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve({ code, reason: this.closeReason });
      });
    });
    this.welcome = this.next((frame) => frame.type === 'connection');
  }

  /** Open a client and wait for the `connection` welcome. */
  static async open(url: string, options: ClientOptions = {}, protocols?: string | string[]): Promise<TestClient> {
    const client = new TestClient(url, options, protocols);
    await Promise.race([client.welcome, client.closed.then(({ code }) => { throw new Error(`closed with ${code} before welcome`); })]);
    return client;
  }

  /** The first frame (already received or future) matching `test`. */
  next(test: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return this.#wait(test, timeoutMs);
  }

  /** The next frame received from now on matching `test`. */
  upcoming(test: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    return this.#wait(test, timeoutMs);
  }

  #wait(test: (frame: Frame) => boolean, timeoutMs: number): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const waiter = { test, resolve: (frame: Frame) => { clearTimeout(timer); resolve(frame); } };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((item) => item !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; last frames: ${JSON.stringify(this.frames.slice(-3))}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Send a raw string or object without waiting. */
  send(message: string | Record<string, unknown>): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The TCP socket under the WebSocket (ws keeps it as `_socket`). */
  get socket(): import('node:net').Socket {
    return (this.ws as unknown as { _socket: import('node:net').Socket })._socket;
  }

  /** Run `send`, whose frames then leave in one TCP write, so that the server reads them all in one tick. */
  inOneWrite(send: () => void): void {
    this.socket.cork();
    send();
    this.socket.uncork();
  }

  /** Send `messages` in one TCP write (see inOneWrite). */
  sendInOneWrite(...messages: Array<Record<string, unknown>>): void {
    this.inOneWrite(() => {
      for (const message of messages) this.send(message);
    });
  }

  /** Send a request with a fresh id and resolve with the reply carrying that id. */
  async request(message: Record<string, unknown>, timeoutMs?: number): Promise<Frame> {
    const id = `req-${this.#nextId++}`;
    const reply = this.next((frame) => frame.id === id, timeoutMs);
    this.send({ ...message, id });
    return reply;
  }

  /** Messages received on `channel` so far. */
  messages(channel: string): Frame[] {
    return this.frames.filter((frame) => frame.type === 'message' && frame.channel === channel);
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    return this.closed;
  }
}

/** Wait until `condition` holds, polling; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
