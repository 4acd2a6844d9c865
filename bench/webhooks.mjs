// Webhook deliveries beside the socket fan-out of the same changes:
//  - one instance with its queue workers (RUN_WORKERS=true); BENCH_SESSIONS (10) sessions,
//    each with a webhook to a receiver in this process and one socket joined to it; one
//    writer per session updates a block in a closed loop for BENCH_SECONDS.
//  - Prints, for the webhook receiver and for the sockets, the changes received per second
//    and the latency from the write being sent to its receipt, p50/p99 (same clock: both
//    ends are this process).
//  - Then the idle case: BENCH_IDLE_WRITES (40) writes to one session, one at a time with
//    a pause between them, each waiting for both ends, and the same latencies.
// Run with `npm run bench:webhooks`.
import http from 'node:http';
import { cpus } from 'node:os';
import { benchDatabase, dropRedisPrefix, httpClient, percentile, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const sessions = Number(process.env.BENCH_SESSIONS ?? 10);
const port = Number(process.env.BENCH_PORT ?? 3924);
const idleWrites = Number(process.env.BENCH_IDLE_WRITES ?? 40);

const hookLatencies = [];
const socketLatencies = [];
const seen = new Set();
let duplicates = 0;
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const sentAt = JSON.parse(body).data?.block?.content?.sentAt;
    const id = req.headers['webhook-id'];
    if (seen.has(id)) duplicates++;
    seen.add(id);
    if (typeof sentAt === 'number') hookLatencies.push(performance.now() - sentAt);
    res.writeHead(204).end();
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

const db = await benchDatabase('webhooks');
const prefix = `tessera-bench:${Date.now()}:`;
let server;
try {
  server = await startServer({
    DATABASE_URL: db.url,
    REDIS_PREFIX: prefix,
    DB_POOL_MAX: '10',
    RATE_LIMIT_ENABLED: 'false',
    RUN_WORKERS: 'true',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    PORT: String(port),
  });
  const registered = await (
    await fetch(`${server.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench-${Date.now()}@example.test`, password: 'benchmark-password', displayName: 'Bench' }),
    })
  ).json();
  const token = registered.accessToken;
  const api = httpClient(server.url, { connections: sessions + 2 });
  const auth = { authorization: `Bearer ${token}` };
  const { TesseraClient } = await import('../src/client/dist/index.js');
  const targets = [];
  const members = [];
  for (let i = 0; i < sessions; i++) {
    const key = (await api.call('POST', '/api/sessions', { typeSlug: 'document' }, auth)).body.key;
    const block = (await api.call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: {} }, auth)).body;
    const hook = await api.call('POST', '/api/webhooks', { url: receiverUrl, events: ['change'], sessionKey: key }, auth);
    if (hook.status !== 201) throw new Error(`webhook refused: ${JSON.stringify(hook.body)}`);
    const client = await new TesseraClient({ url: server.url, token, socket: { reconnection: false } }).connect();
    const feed = await client.join(key);
    feed.on('change', (change) => {
      const sentAt = change.block?.content?.sentAt;
      if (typeof sentAt === 'number') socketLatencies.push(performance.now() - sentAt);
    });
    members.push(client);
    targets.push({ key, id: block.id, version: block.version });
  }
  hookLatencies.length = 0;
  socketLatencies.length = 0;
  let writes = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    targets.map(async (t) => {
      while (performance.now() < end) {
        const answer = await api.call(
          'PATCH',
          `/api/sessions/${t.key}/blocks/${t.id}`,
          { version: t.version, content: { sentAt: performance.now() } },
          auth,
        );
        t.version = answer.body.version;
        writes++;
      }
    }),
  );
  // The webhooks' tail: wait until every write reached the receiver (or 30 s).
  for (let i = 0; i < 300 && hookLatencies.length < writes; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  const loaded = { hooks: [...hookLatencies], sockets: [...socketLatencies] };
  // Idle: one write at a time, both ends caught up before the next.
  hookLatencies.length = 0;
  socketLatencies.length = 0;
  const idle = targets[0];
  for (let n = 1; n <= idleWrites; n++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answer = await api.call(
      'PATCH',
      `/api/sessions/${idle.key}/blocks/${idle.id}`,
      { version: idle.version, content: { sentAt: performance.now() } },
      auth,
    );
    idle.version = answer.body.version;
    for (let i = 0; i < 500 && (hookLatencies.length < n || socketLatencies.length < n); i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  const idleHooks = summary(hookLatencies);
  const idleSockets = summary(socketLatencies);
  hookLatencies.splice(0, hookLatencies.length, ...loaded.hooks);
  socketLatencies.splice(0, socketLatencies.length, ...loaded.sockets);
  for (const m of members) m.close();
  api.close();
  const hooks = summary(hookLatencies);
  const sockets = summary(socketLatencies);
  console.log(
    `\nWebhooks, ${sessions} sessions with one webhook and one socket each, one writer per session, ${seconds}s, ${cpus().length} cores`,
  );
  console.table({ 'socket fan-out of the same changes (baseline)': row(sockets), 'webhook deliveries': row(hooks) });
  console.log(`writes: ${writes}; webhook deliveries received twice: ${duplicates}`);
  console.log(`\nIdle: ${idleWrites} writes to one session, one at a time`);
  console.table({ 'socket fan-out of the same change (baseline)': row(idleSockets), 'webhook delivery': row(idleHooks) });
  recordFigures('webhooks', [
    {
      name: `webhook deliveries, ${sessions} sessions on one instance`,
      value: hooks.perSecond,
      unit: 'deliveries/s',
      p50: hooks.p50,
      p99: hooks.p99,
      baseline: { name: 'the same changes to one socket per session', value: sockets.perSecond, p50: sockets.p50, p99: sockets.p99 },
    },
    {
      name: 'webhook delivery of one change at a time (idle)',
      value: idleHooks.p50,
      unit: 'ms p50',
      p50: idleHooks.p50,
      p99: idleHooks.p99,
      baseline: { name: 'the same change to its socket', value: idleSockets.p50, p50: idleSockets.p50, p99: idleSockets.p99 },
    },
  ]);
} finally {
  await server?.stop();
  await db.drop();
  await dropRedisPrefix(prefix);
  receiver.close();
}

function summary(latencies, span = seconds) {
  const sorted = [...latencies].sort((x, y) => x - y);
  return { received: sorted.length, perSecond: sorted.length / span, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

function row(r) {
  return { received: r.received, 'received/s': Math.round(r.perSecond), 'p50 ms': r.p50.toFixed(2), 'p99 ms': r.p99.toFixed(2) };
}
