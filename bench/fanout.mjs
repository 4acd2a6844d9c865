// Fan-out of changes across two instances, beside a bare Socket.IO + Redis-adapter relay
// measured in the same run with the same topology:
//  - 2 instances; BENCH_ROOMS rooms (sessions) of 10 members, 5 connected to each
//    instance; one writer per room sending block updates (Tessera) or relay messages
//    (baseline) in a closed loop (or BENCH_RATE writes/s per room) for BENCH_SECONDS.
//    Members speak the typed client's protocol (2: one `changes` event per batch). Prints delivered events/s and the
//    end-to-end latency (writer send -> every member's receipt) p50/p99.
//  - RSS per idle connection: one instance's resident memory before and after
//    BENCH_IDLE_SOCKETS (5000) idle authenticated-less sockets.
// Run with `npm run bench:fanout`.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { io } from 'socket.io-client';
import { benchDatabase, dropRedisPrefix, httpClient, percentile, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rooms = Number(process.env.BENCH_ROOMS ?? 20);
const idleSockets = Number(process.env.BENCH_IDLE_SOCKETS ?? 5000);
const port = Number(process.env.BENCH_PORT ?? 3904);
/** Writes per second per room; 0 (the default) writes in a closed loop, each write once the previous one is acked. */
const rate = Number(process.env.BENCH_RATE ?? 0);
const MEMBERS = 10;

const connectTo = (url) =>
  new Promise((resolve, reject) => {
    const socket = io(`${url}/collab`, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });

/**
 * Members join, writers loop; every receipt of a change stamped by a writer is timed.
 * `side.member(url, room, onMessage)` and `side.writer(url, room)` return something with
 * `close()`; `side.write(writer, room, sentAt)` sends one message and waits for its ack.
 */
async function run(urls, side) {
  const latencies = [];
  const onMessage = (sentAt) => typeof sentAt === 'number' && latencies.push(performance.now() - sentAt);
  const members = [];
  for (let r = 0; r < rooms; r++) {
    for (let m = 0; m < MEMBERS; m++) members.push(await side.member(urls[m % 2], r, onMessage));
  }
  const writers = await Promise.all(Array.from({ length: rooms }, (_, r) => side.writer(urls[r % 2], r)));
  latencies.length = 0;
  const end = performance.now() + seconds * 1000;
  let writes = 0;
  await Promise.all(
    writers.map(async (writer, r) => {
      const start = performance.now();
      for (let n = 1; performance.now() < end; n++) {
        await side.write(writer, r, performance.now());
        writes++;
        const next = start + (n * 1000) / rate;
        if (rate > 0 && next > performance.now()) await new Promise((resolve) => setTimeout(resolve, next - performance.now()));
      }
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // let the last broadcasts land
  const delivered = latencies.length;
  latencies.sort((x, y) => x - y);
  for (const s of [...members, ...writers]) s.close();
  return { writes, delivered, perSecond: delivered / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Tessera through its typed client: members follow a session feed, writers update one block each. */
async function tessera(urls) {
  const { TesseraClient } = await import('../src/client/dist/index.js');
  const api = httpClient(urls[0]);
  const targets = [];
  for (let r = 0; r < rooms; r++) {
    const key = (await api.call('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
    const block = (await api.call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: {} })).body;
    targets.push({ key, id: block.id, version: block.version });
  }
  api.close();
  const join = async (url, r) => {
    const client = await new TesseraClient({ url, socket: { reconnection: false } }).connect();
    return { client, feed: await client.join(targets[r].key), close: () => client.close() };
  };
  return run(urls, {
    member: async (url, r, onMessage) => {
      const member = await join(url, r);
      member.feed.on('change', (change) => onMessage(change.block?.content?.sentAt));
      return member;
    },
    writer: join,
    write: async (writer, r, sentAt) => {
      const t = targets[r];
      t.version = (await writer.feed.update(t.id, t.version, { content: { sentAt } })).version;
    },
  });
}

/** The bare relay through plain socket.io-client sockets. */
function relay(urls) {
  const socketIn = async (url, r) => {
    const socket = await connectTo(url);
    await socket.emitWithAck('join', `room-${r}`);
    return socket;
  };
  return run(urls, {
    member: async (url, r, onMessage) => {
      const socket = await socketIn(url, r);
      socket.on('change', (message) => onMessage(message.sentAt));
      return socket;
    },
    writer: socketIn,
    write: (socket, r, sentAt) => socket.emitWithAck('relay', { room: `room-${r}`, sentAt, content: { text: 'x'.repeat(40) } }),
  });
}

async function startRelay(p, prefix) {
  const child = fork(new URL('./relay-server.mjs', import.meta.url), { env: { ...process.env, PORT: String(p), REDIS_PREFIX: prefix } });
  await new Promise((resolve) => child.once('message', resolve));
  return { url: `http://127.0.0.1:${p}`, stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM'))) };
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

async function idleMemory(server) {
  const before = rssKiB(server.pid);
  const sockets = [];
  for (let i = 0; i < idleSockets; i += 250)
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(250, idleSockets - i) }, () => connectTo(server.url)))));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const after = rssKiB(server.pid);
  for (const s of sockets) s.close();
  return { sockets: sockets.length, beforeMiB: before / 1024, afterMiB: after / 1024, perSocketKiB: (after - before) / sockets.length };
}

const db = await benchDatabase('fanout');
const prefix = `tessera-bench:${Date.now()}:`;
const env = {
  DATABASE_URL: db.url,
  REDIS_PREFIX: prefix,
  DB_POOL_MAX: '10',
  RATE_LIMIT_ENABLED: 'false',
  WS_MAX_CONNECTIONS: String(idleSockets + 100),
  // Every client of the bench comes from one address: a room's 10 members and its writer need their seats.
  SESSION_MAX_SEATS_PER_IP: '100',
};
const servers = [];
try {
  servers.push(await startServer({ ...env, PORT: String(port) }), await startServer({ ...env, PORT: String(port + 1) }));
  const urls = servers.map((s) => s.url);
  const relays = [await startRelay(port + 2, prefix), await startRelay(port + 3, prefix)];
  const baseline = await relay(relays.map((r) => r.url));
  await Promise.all(relays.map((r) => r.stop()));
  const result = await tessera(urls);
  const memory = await idleMemory(servers[0]);
  const pace = rate > 0 ? `${rate} writes/s per room` : 'closed loop';
  console.log(
    `\nFan-out, ${rooms} rooms x ${MEMBERS} members over 2 instances, one writer per room (${pace}), ${seconds}s, ${cpus().length} cores`,
  );
  console.table({
    'bare Socket.IO + Redis adapter relay (baseline)': row(baseline),
    'Tessera block.update -> change': row(result),
  });
  console.log(`delivered events/s vs baseline: ${(result.perSecond / baseline.perSecond).toFixed(2)}`);
  console.log(
    `idle sockets: ${memory.sockets} on one instance, RSS ${memory.beforeMiB.toFixed(0)} -> ${memory.afterMiB.toFixed(0)} MiB, ${memory.perSocketKiB.toFixed(1)} KiB per connection`,
  );
  recordFigures('fanout', [
    {
      name: `change events delivered, ${rooms} rooms x ${MEMBERS} members, 2 instances${rate > 0 ? `, ${pace}` : ''}`,
      value: result.perSecond,
      unit: 'events/s',
      p50: result.p50,
      p99: result.p99,
      baseline: { name: 'bare Socket.IO + Redis adapter relay', value: baseline.perSecond, p50: baseline.p50, p99: baseline.p99 },
    },
    {
      name: `RSS with ${memory.sockets} idle sockets on one instance`,
      value: memory.afterMiB,
      unit: 'MiB',
      higherIsBetter: false,
      baseline: { name: 'RSS of the same instance before they connected', value: memory.beforeMiB },
    },
  ]);
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  await db.drop();
  await dropRedisPrefix(prefix);
}

function row(r) {
  return {
    writes: r.writes,
    'delivered events': r.delivered,
    'delivered/s': Math.round(r.perSecond),
    'p50 ms': r.p50.toFixed(2),
    'p99 ms': r.p99.toFixed(2),
  };
}
