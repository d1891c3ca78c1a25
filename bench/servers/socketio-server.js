// Socket.IO 4 doing the same job: websocket transport only, one room per channel, emit to the room.
// @ts-check

import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 0);
const host = '127.0.0.1';

/** @type {Map<string, number>} */
const offsets = new Map();

const server = createServer();
const io = new Server(server, {
  path: '/socket.io',
  transports: ['websocket'],
  serveClient: false,
  // Liveness pings would add work to the idle and fan-out figures; the other servers get the same long interval.
  pingInterval: 600_000,
  pingTimeout: 600_000,
  perMessageDeflate: false,
  maxHttpBufferSize: 1_048_576,
});

io.on('connection', (socket) => {
  socket.on('subscribe', (/** @type {unknown} */ channel, /** @type {unknown} */ ack) => {
    if (typeof channel !== 'string') return;
    void socket.join(channel);
    if (typeof ack === 'function') ack({ offset: offsets.get(channel) ?? 0 });
  });
  socket.on('publish', (/** @type {{ channel?: unknown; data?: unknown }} */ message, /** @type {unknown} */ ack) => {
    const channel = message?.channel;
    if (typeof channel !== 'string') return;
    const offset = (offsets.get(channel) ?? 0) + 1;
    offsets.set(channel, offset);
    io.to(channel).emit('message', { channel, data: message.data, offset, timestamp: Date.now() });
    if (typeof ack === 'function') ack({ offset });
  });
  socket.on('echo', (/** @type {unknown} */ data, /** @type {unknown} */ ack) => {
    if (typeof ack === 'function') ack(data);
  });
});
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
