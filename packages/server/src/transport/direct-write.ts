// Writes to a socket's file descriptor while its stream holds nothing: the system call Node's stream would make,
// without the stream's bookkeeping around it (a write request object, the stream state, a callback tick per write),
// which is most of what a delivery costs in JavaScript.

import { writeSync, writevSync } from 'node:fs';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/**
 * The file descriptor of `socket` for direct writes, or -1 where they cannot be made: a TLS socket (its bytes must go
 * through the TLS layer) or a socket without a descriptor (on Windows, or a stream that is not a plain socket).
 */
export function directDescriptor(socket: Socket): number {
  if (socket instanceof TLSSocket) return -1;
  // Node keeps the libuv handle in `_handle`, and no public API gives its descriptor: `fd` is the socket's own on Unix,
  // -1 elsewhere. The descriptor is read once, when the connection opens; `directlyWritable` below says whether it still is.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/**
 * Whether a write may go straight to `fd`: the stream holds nothing that it would overtake (nothing buffered, corked
 * or still being written by libuv: all of it counts in `writableLength`), and the socket is not destroyed, so `fd`
 * is still its own (Node closes the descriptor in `destroy()`, before the 'close' event that ws waits for).
 */
export function directlyWritable(socket: Socket, fd: number): boolean {
  return fd >= 0 && socket.writableLength === 0 && !socket.destroyed;
}

/** Bytes the kernel took of a direct write; 0 when it took none or failed. */
export function tryWrite(fd: number, frames: Buffer | Buffer[]): number {
  try {
    return Array.isArray(frames) ? writevSync(fd, frames) : writeSync(fd, frames);
  } catch {
    // EAGAIN: the kernel's send buffer is full. Any other error (EPIPE, ECONNRESET) the stream's own write meets
    // again and reports as it always does, with the 'error' event that ws closes the connection on.
    return 0;
  }
}

/**
 * Write `frame` to `socket`: to `fd` when `directlyWritable`, and through the stream otherwise or for whatever the kernel did
 * not take, where it queues behind nothing and counts in `writableLength` as usual. True when the kernel took it all.
 */
export function writeFrame(socket: Socket, fd: number, frame: Buffer): boolean {
  if (!directlyWritable(socket, fd)) {
    socket.write(frame);
    return false;
  }
  const written = tryWrite(fd, frame);
  if (written === frame.length) return true;
  writeRest(socket, frame, written);
  return false;
}

/** Give the stream what the kernel did not take of a direct write of `frame`: all of it, or the rest after `written` bytes. */
export function writeRest(socket: Socket, frame: Buffer, written: number): void {
  socket.write(written === 0 ? frame : frame.subarray(written));
}

/** Write `frames` to `socket` in order, as `writeFrame` does: one writev to `fd`, the rest corked into the stream. */
export function writeFrames(socket: Socket, fd: number, frames: Buffer[]): void {
  let first = 0;
  let firstOffset = 0;
  if (directlyWritable(socket, fd)) {
    let written = tryWrite(fd, frames);
    while (first < frames.length && written >= (frames[first] as Buffer).length) {
      written -= (frames[first] as Buffer).length;
      first++;
    }
    if (first === frames.length) return;
    firstOffset = written;
  }
  socket.cork();
  for (let index = first; index < frames.length; index++) {
    const frame = frames[index] as Buffer;
    socket.write(index === first && firstOffset > 0 ? frame.subarray(firstOffset) : frame);
  }
  socket.uncork();
}
