// Checklist users arriving at once and autosaving: BENCH_USERS (100) users each create a
// checklist session at the same moment (POST /api/sessions), then save its state
// (PATCH /api/sessions/:key {version, state}) every 0.5-1.5 s for BENCH_SECONDS. The same
// arrival and save pattern runs first as bare statements through `pg` (INSERT of a session
// row, then its optimistic UPDATE), the baseline measured in the same run. Reported: the
// latency of the creates, of the saves, and of both together, p50 and p99.
// Run with `npm run bench:checklist`.
//   BENCH_SECONDS (default 10), BENCH_USERS (default 100), BENCH_PORT (default 3907),
//   BENCH_IDEMPOTENCY_KEYS=1 (each create carries an Idempotency-Key; the baseline inserts
//   the key's binding in the statement that inserts the session)
import { randomInt, randomUUID } from 'node:crypto';
import pg from 'pg';
import { benchDatabase, dropRedisPrefix, httpClient, percentile, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const users = Number(process.env.BENCH_USERS ?? 100);
const port = Number(process.env.BENCH_PORT ?? 3907);
const keyed = process.env.BENCH_IDEMPOTENCY_KEYS === '1';
const poolSize = 20;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const stateOf = (n) => ({ items: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`task-${i}`, (n + i) % 3 === 0])) });

/** Runs one user: `create()` then `save(n)` every 0.5-1.5 s until the end; records latencies. */
async function user(create, save, until, latencies) {
  let started = performance.now();
  const handle = await create();
  latencies.creates.push(performance.now() - started);
  for (let n = 1; performance.now() < until; n++) {
    await sleep(randomInt(500, 1500));
    started = performance.now();
    await save(handle, n);
    latencies.saves.push(performance.now() - started);
  }
}

async function run(create, save) {
  const latencies = { creates: [], saves: [], errors: 0 };
  const until = performance.now() + seconds * 1000;
  const guarded =
    (fn) =>
    (...args) =>
      fn(...args).catch((error) => {
        latencies.errors++;
        throw error;
      });
  await Promise.allSettled(Array.from({ length: users }, () => user(guarded(create), guarded(save), until, latencies)));
  const figure = (list) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  };
  return {
    creates: figure(latencies.creates),
    saves: figure(latencies.saves),
    all: figure([...latencies.creates, ...latencies.saves]),
    errors: latencies.errors,
  };
}

const baseDb = await benchDatabase('checklist_base');
const apiDb = await benchDatabase('checklist_api');
const redisPrefix = `tessera-bench-checklist:${Date.now()}:`;
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: apiDb.url,
    DB_POOL_MAX: String(poolSize),
    REDIS_PREFIX: redisPrefix,
    RATE_LIMIT_POLICIES: JSON.stringify({
      'session-creates': { anonymous: { limit: 1_000_000_000, windowSeconds: 10 } },
      'session-saves': { anonymous: { limit: 1_000_000_000, windowSeconds: 10 } },
    }),
    // Every user here comes from one address: the key-probe guard's slots per address (30
    // lookups in flight) would queue them as one crowd behind a NAT, which is not this bench's subject.
    KEY_PROBE_LIMIT: '100000',
  });
  const { applyMigrations } = await import('../dist/database/migrator.js');
  await applyMigrations(baseDb.url);

  const pool = new pg.Pool({ connectionString: baseDb.url, max: poolSize });
  const baseline = await run(
    async () => {
      const key = randomUUID().slice(0, 8).toUpperCase();
      const insert = `INSERT INTO sessions (id, key, key_length, type_slug, metadata, state, created_at, updated_at)
         VALUES (gen_random_uuid(), $1, 8, 'checklist', '{}', '{}', now(), now())`;
      if (!keyed) await pool.query(insert, [key]);
      else {
        await pool.query(
          `WITH s AS (${insert} RETURNING id)
           INSERT INTO idempotency_keys (scope, key, request_hash, session_id) SELECT 'bench', $2, $3, s.id FROM s`,
          [key, randomUUID(), '0'.repeat(64)],
        );
      }
      return { key, version: 1 };
    },
    async (handle, n) => {
      const r = await pool.query(
        'UPDATE sessions SET state = $1, version = version + 1, updated_at = now() WHERE key = $2 AND version = $3',
        [JSON.stringify(stateOf(n)), handle.key, handle.version],
      );
      if (r.rowCount !== 1) throw new Error('lost the race');
      handle.version++;
    },
  );
  await pool.end();

  const client = httpClient(server.url, { connections: users });
  const api = await run(
    async () => {
      const headers = keyed ? { 'idempotency-key': randomUUID() } : undefined;
      const res = await client.call('POST', '/api/sessions', { typeSlug: 'checklist' }, headers);
      if (res.status !== 201) throw new Error(`create: status ${res.status}`);
      return { key: res.body.key, version: res.body.version };
    },
    async (handle, n) => {
      const res = await client.call('PATCH', `/api/sessions/${handle.key}`, { version: handle.version, state: stateOf(n) });
      if (res.status !== 200) throw new Error(`save: status ${res.status}`);
      handle.version = res.body.version;
    },
  );
  client.close();

  const row = (name, r) => ({ name, 'p50 ms': r.p50.toFixed(1), 'p99 ms': r.p99.toFixed(1), n: r.n });
  console.log(
    `\n${users} checklist users arriving at once${keyed ? ' (creates with an Idempotency-Key)' : ''}, autosaving every 0.5-1.5 s for ${seconds} s`,
  );
  console.table(
    Object.fromEntries(
      [
        row('bare pg: creates (baseline)', baseline.creates),
        row('bare pg: saves (baseline)', baseline.saves),
        row('bare pg: all (baseline)', baseline.all),
        row('API: creates', api.creates),
        row('API: saves', api.saves),
        row('API: all', api.all),
      ].map(({ name, ...r }) => [name, r]),
    ),
  );
  console.log(`errors: bare pg ${baseline.errors}, API ${api.errors}`);
  const latency = (name, r, base) => ({
    name,
    unit: 'ms p99',
    value: r.p99,
    higherIsBetter: false,
    baseline: { name: base.name, value: base.r.p99 },
  });
  recordFigures('checklist', [
    latency(`${users} checklist users${keyed ? ' (keyed creates)' : ''}: creates and saves, p99`, api.all, {
      name: 'bare pg statements, same pattern',
      r: baseline.all,
    }),
  ]);
} finally {
  await server?.stop();
  await baseDb.drop();
  await apiDb.drop();
  await dropRedisPrefix(redisPrefix);
}
