// Change feeds (server-sent events) on one instance, beside sockets following the same session:
//  - BENCH_READERS (200) readers of one session's GET /api/sessions/:key/events on one
//    instance; one writer updates a block of it in a closed loop for BENCH_SECONDS. Prints
//    delivered events/s and the latency (write sent -> each reader's receipt) p50/p99, and
//    the instance's RSS before and after the readers connected.
//  - The same with BENCH_READERS sockets joined to the session (the typed client): the
//    baseline, measured in the same run against the same instance.
// Run with `npm run bench:feed`.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchDatabase, dropRedisPrefix, httpClient, percentile, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const readers = Number(process.env.BENCH_READERS ?? 200);
const port = Number(process.env.BENCH_PORT ?? 3914);

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

/** One SSE reader on its own connection: calls `onChange` with each change's data. */
function sseReader(url, onChange) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`feed answered ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (block.includes('event: change') && data) onChange(JSON.parse(data.slice(6)));
        }
      });
      res.on('error', () => undefined);
      resolve({ close: () => res.destroy() });
    });
    req.on('error', reject);
  });
}

/** The writer loop against members already following `target`; every receipt of a stamped change is timed. */
async function measure(api, target, latencies) {
  latencies.length = 0;
  const end = performance.now() + seconds * 1000;
  let writes = 0;
  while (performance.now() < end) {
    const sentAt = performance.now();
    const answer = await api.call('PATCH', `/api/sessions/${target.key}/blocks/${target.id}`, {
      version: target.version,
      content: { sentAt },
    });
    target.version = answer.body.version;
    writes++;
  }
  await new Promise((resolve) => setTimeout(resolve, 500)); // the last deliveries
  const sorted = [...latencies].sort((x, y) => x - y);
  return { writes, delivered: sorted.length, perSecond: sorted.length / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function newTarget(api) {
  const key = (await api.call('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
  const block = (await api.call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: {} })).body;
  return { key, id: block.id, version: block.version };
}

const db = await benchDatabase('feed');
const prefix = `tessera-bench:${Date.now()}:`;
const env = {
  DATABASE_URL: db.url,
  REDIS_PREFIX: prefix,
  DB_POOL_MAX: '10',
  RATE_LIMIT_ENABLED: 'false',
  SSE_MAX_STREAMS_PER_CLIENT: String(readers + 10),
  SESSION_MAX_SEATS_PER_IP: String(readers + 10),
  SESSION_MAX_MEMBERS: String(readers + 10),
};
let server;
try {
  server = await startServer({ ...env, PORT: String(port) });
  const api = httpClient(server.url, { connections: 4 });
  const latencies = [];
  const onChange = (change) =>
    typeof change.block?.content?.sentAt === 'number' && latencies.push(performance.now() - change.block.content.sentAt);

  const feedTarget = await newTarget(api);
  const before = rssKiB(server.pid);
  const feeds = [];
  for (let i = 0; i < readers; i += 50) {
    const batch = Array.from({ length: Math.min(50, readers - i) }, () =>
      sseReader(`${server.url}/api/sessions/${feedTarget.key}/events`, onChange),
    );
    feeds.push(...(await Promise.all(batch)));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const withFeeds = rssKiB(server.pid);
  const feed = await measure(api, feedTarget, latencies);
  for (const f of feeds) f.close();

  const { TesseraClient } = await import('../src/client/dist/index.js');
  const socketTarget = await newTarget(api);
  const members = [];
  for (let i = 0; i < readers; i++) {
    const client = await new TesseraClient({ url: server.url, socket: { reconnection: false } }).connect();
    const joined = await client.join(socketTarget.key);
    joined.on('change', onChange);
    members.push(client);
  }
  const sockets = await measure(api, socketTarget, latencies);
  for (const m of members) m.close();
  api.close();

  console.log(`\nChange feed, ${readers} readers of one session on one instance, one writer, ${seconds}s, ${cpus().length} cores`);
  console.table({ 'sockets joined to the session (baseline)': row(sockets), 'SSE change feeds': row(feed) });
  console.log(
    `RSS ${(before / 1024).toFixed(0)} -> ${(withFeeds / 1024).toFixed(0)} MiB with ${readers} open feeds, ${((withFeeds - before) / readers).toFixed(1)} KiB per feed`,
  );
  recordFigures('feed', [
    {
      name: `change events delivered to ${readers} SSE readers of one session, one instance`,
      value: feed.perSecond,
      unit: 'events/s',
      p50: feed.p50,
      p99: feed.p99,
      baseline: { name: `${readers} sockets in the session`, value: sockets.perSecond, p50: sockets.p50, p99: sockets.p99 },
    },
    {
      name: `RSS with ${readers} open change feeds`,
      value: withFeeds / 1024,
      unit: 'MiB',
      higherIsBetter: false,
      baseline: { name: 'RSS of the same instance before they connected', value: before / 1024 },
    },
  ]);
} finally {
  await server?.stop();
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
