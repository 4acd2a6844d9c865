// What one request of the hot path costs the API process, measured from outside while 32
// clients run it on one instance:
//  - CPU microseconds per request (the process's own process_cpu_seconds_total from /metrics,
//    over the measured phase, divided by the requests answered);
//  - Redis commands and script calls per request (INFO commandstats of a Redis server the
//    benchmark starts for itself, so nothing else is counted);
//  - SQL statements per request (pg_stat_statements of the benchmark's database, when the
//    extension can be created).
// Paths: PATCH of a block (each client its own session), and GET of a cached session.
// Run with `npm run bench:hotpath`.
//   BENCH_SECONDS (default 8), BENCH_CONCURRENCY (default 32), BENCH_PORT (default 3906),
//   BENCH_REDIS_PORT (default 6391; needs `redis-server` on the PATH)
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import pg from 'pg';
import { benchDatabase, closedLoop, httpClient, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const port = Number(process.env.BENCH_PORT ?? 3906);
const redisPort = Number(process.env.BENCH_REDIS_PORT ?? 6391);

async function ownRedis() {
  const child = spawn('redis-server', ['--port', String(redisPort), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 50; i++) {
    const redis = new Redis({ port: redisPort, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    if (
      await redis.connect().then(
        () => true,
        () => false,
      )
    )
      return { redis, stop: () => (redis.disconnect(), child.kill()) };
    redis.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error(`redis-server did not start on port ${redisPort}`);
}

const cpuSeconds = async (url) => {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^process_cpu_seconds_total (\S+)/m.exec(text)[1]);
};

async function statementCalls(db) {
  if (!db) return 0;
  const { rows } = await db.query(
    `SELECT coalesce(sum(calls), 0)::bigint AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return Number(rows[0].n);
}

const database = await benchDatabase('hotpath');
const { redis, stop: stopRedis } = await ownRedis();
let server;
let stats = null;
try {
  stats = new pg.Client({ connectionString: database.url });
  await stats.connect();
  try {
    await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await statementCalls(stats);
  } catch {
    await stats.end();
    stats = null; // not preloaded on this server: statements are not counted
  }
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: database.url,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    REDIS_PREFIX: 'tessera-bench-hotpath:',
    RATE_LIMIT_POLICIES: JSON.stringify({
      'block-edits': { FREE: { limit: 1_000_000_000, windowSeconds: 10 } },
      'session-creates': { anonymous: { limit: 1_000_000, windowSeconds: 10 } },
    }),
  });
  const client = httpClient(server.url, { connections: concurrency });
  const targets = [];
  for (let i = 0; i < concurrency; i++) {
    const key = (await client.call('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
    const block = (await client.call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: { n: 0 } })).body;
    targets.push({ key, id: block.id, version: block.version });
  }
  const paths = {
    'PATCH block': async (w) => {
      const t = targets[w];
      const res = await client.call('PATCH', `/api/sessions/${t.key}/blocks/${t.id}`, {
        version: t.version,
        content: { text: 'paragraph '.repeat(8), n: t.version },
      });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      t.version = res.body.version;
    },
    'GET session, cached': async (w) => {
      const res = await client.call('GET', `/api/sessions/${targets[w].key}`);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
  };
  const rows = [];
  const breakdown = {};
  for (const [name, op] of Object.entries(paths)) {
    await closedLoop(op, { concurrency, seconds: 2 }); // warm-up (and cache fill), discarded
    await new Promise((resolve) => setTimeout(resolve, 700)); // background work of the warm-up settles
    await redis.config('RESETSTAT');
    const [cpu0, sql0] = [await cpuSeconds(server.url), await statementCalls(stats)];
    const result = await closedLoop(op, { concurrency, seconds });
    const [cpu1, sql1] = [await cpuSeconds(server.url), await statementCalls(stats)];
    let commands = 0;
    let scripts = 0;
    const byCommand = {};
    for (const line of (await redis.info('commandstats')).split('\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      if (!m || m[1] === 'config' || m[1] === 'info') continue;
      commands += Number(m[2]);
      byCommand[m[1]] = Number((Number(m[2]) / result.ops).toFixed(2));
      if (m[1] === 'evalsha' || m[1] === 'eval') scripts += Number(m[2]);
    }
    breakdown[name] = byCommand;
    rows.push({
      name,
      'ops/s': Math.round(result.opsPerSec),
      'p99 ms': result.p99.toFixed(1),
      'CPU µs/req': Math.round(((cpu1 - cpu0) * 1e6) / result.ops),
      'Redis cmds/req': (commands / result.ops).toFixed(1),
      'scripts/req': (scripts / result.ops).toFixed(2),
      'SQL/req': stats ? ((sql1 - sql0) / result.ops).toFixed(2) : 'n/a',
      errors: result.errors,
    });
  }
  client.close();
  console.log(`\nHot path per request, one instance, ${concurrency} clients, ${seconds}s each, ${cpus().length} cores`);
  console.table(Object.fromEntries(rows.map(({ name, ...row }) => [name, row])));
  console.log('\nRedis commands per request, by command (the background work of the measured phase included)');
  console.table(breakdown);
} finally {
  await stats?.end();
  await server?.stop();
  stopRedis();
  await database.drop();
}
