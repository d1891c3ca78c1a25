// A complete server-to-client WebSocket frame in one buffer, for messages written to many sockets.

/**
 * One final, unmasked server frame (RFC 6455 §5.2): text or binary, with RSV1 set for a permessage-deflate
 * payload. Header and payload share one buffer, so a fan-out makes one allocation per message and each socket
 * gets a single buffer to write. ws still reads every frame and writes pings and closes; a test checks this
 * header against ws's own `Sender.frame`.
 */
export function serverFrame(payload: string | Uint8Array, binary: boolean, compressed: boolean): Buffer {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x80 | (compressed ? 0x40 : 0) | (binary ? 0x2 : 0x1);
  if (headerLength === 2) frame[1] = length;
  else if (headerLength === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    // A 64-bit length; a Buffer holds under 2^53 bytes, so the top two bytes are always zero.
    frame.writeUInt16BE(0, 2);
    frame.writeUIntBE(length, 4, 6);
  }
  if (typeof payload === 'string') frame.write(payload, headerLength, 'utf8');
  else frame.set(payload, headerLength);
  return frame;
}
