// The baseline of bench/fanout: a bare Socket.IO server on the same sharded Redis adapter,
// relaying each `relay` event to its room and acking it. No auth, no database, no checks.
import { createServer } from 'node:http';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT);
const prefix = process.env.REDIS_PREFIX;
const http = createServer();
// The same transport settings as Tessera's, so only what Tessera adds is measured.
const io = new Server(http, {
  path: '/socket.io',
  perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10 },
});
io.adapter(createShardedAdapter(new Redis(), new Redis(), { channelPrefix: `${prefix}relay`, subscriptionMode: 'dynamic' }));
const nsp = io.of('/collab');
nsp.on('connection', (socket) => {
  socket.on('join', async (room, ack) => {
    await socket.join(room);
    ack({ ok: true });
  });
  socket.on('relay', (message, ack) => {
    nsp.to(message.room).emit('change', message);
    ack({ ok: true });
  });
});
http.listen(port, '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => io.close(() => process.exit(0)));
