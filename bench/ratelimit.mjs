// What the rate limiter costs, each figure beside a baseline measured in the same run:
//  - PATCH of a block by FREE users (a limited route; the limit is set so high it never
//    refuses) on a server with limits on, beside the same load on a server with
//    RATE_LIMIT_ENABLED=false: the limiter's overhead per request;
//  - raw decisions/s of the limiter's Lua script (one sliding-window decision per call)
//    beside a plain Redis INCR, at the same concurrency.
// Run with `npm run bench:ratelimit`.
//   BENCH_SECONDS (default 10), BENCH_CONCURRENCY (default 32), BENCH_PORT (default 3903),
//   BENCH_ROUNDS (default 3: alternating off/on server runs, averaged)
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Redis } from 'ioredis';
import { benchDatabase, closedLoop, dropRedisPrefix, httpClient, opsFigure, printTable, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const port = Number(process.env.BENCH_PORT ?? 3903);
// The seed registers every client from one IP.
const policies = JSON.stringify({
  'block-edits': { FREE: { limit: 1_000_000_000, windowSeconds: 10 } },
  registrations: { anonymous: { limit: 1_000_000, windowSeconds: 10 } },
});

/** One FREE user per client, each editing one block of its own session. */
async function seed(call) {
  const targets = [];
  for (let i = 0; i < concurrency; i++) {
    const email = `bench-${randomBytes(6).toString('hex')}@example.test`;
    const { accessToken } = (await call('POST', '/api/auth/register', { email, password: 'bench-password' })).body;
    const auth = { authorization: `Bearer ${accessToken}` };
    const key = (await call('POST', '/api/sessions', { typeSlug: 'document' }, auth)).body.key;
    const block = (await call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: { n: 0 } }, auth)).body;
    targets.push({ auth, key, id: block.id, version: block.version });
  }
  return targets;
}

async function patchRun(enabled, db, prefix) {
  const server = await startServer({
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_PREFIX: prefix,
    DB_POOL_MAX: '20',
    PASSWORD_HASH_COST: '10',
    JWT_SECRET: 'bench-jwt-secret-0123456789-0123456789-abcdef',
    RATE_LIMIT_ENABLED: String(enabled),
    RATE_LIMIT_POLICIES: policies,
  });
  const client = httpClient(server.url, { connections: concurrency });
  try {
    const targets = await seed(client.call);
    const op = (worker) => async () => {
      const t = targets[worker];
      const res = await client.call(
        'PATCH',
        `/api/sessions/${t.key}/blocks/${t.id}`,
        { version: t.version, content: { n: t.version } },
        t.auth,
      );
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      t.version = res.body.version;
    };
    await closedLoop((w) => op(w)(), { concurrency, seconds: 2 }); // warm-up, discarded
    return await closedLoop((w) => op(w)(), { concurrency, seconds });
  } finally {
    client.close();
    await server.stop();
  }
}

async function scriptRun(prefix) {
  const { CONSUME_SCRIPT } = await import('../dist/rate-limit/rate-limit.scripts.js');
  const redis = new Redis({ keyPrefix: prefix });
  redis.defineCommand('rlConsume', { lua: CONSUME_SCRIPT });
  try {
    const decide = (w) =>
      redis.rlConsume(
        5,
        `b:${w}`,
        `o:${w}`,
        'stats',
        'offenders',
        `w:${w}`,
        'bench',
        `id:${w}`,
        1,
        20,
        600_000,
        900_000,
        randomBytes(8).toString('hex'),
        1_000_000_000,
        10_000,
      );
    const incr = (w) => redis.incr(`n:${w}`);
    await closedLoop(decide, { concurrency, seconds: 1 });
    const script = await closedLoop(decide, { concurrency, seconds });
    const baseline = await closedLoop(incr, { concurrency, seconds });
    return { script, baseline };
  } finally {
    redis.disconnect();
  }
}

const db = await benchDatabase('ratelimit');
const prefix = `tessera-bench:${Date.now()}:`;
try {
  // Runs alternate (off, on, off, on, ...) and are averaged: run-to-run noise on a small
  // machine is larger than the effect being measured.
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const offRuns = [];
  const onRuns = [];
  for (let i = 0; i < rounds; i++) {
    offRuns.push(await patchRun(false, db, `${prefix}off${i}:`));
    onRuns.push(await patchRun(true, db, `${prefix}on${i}:`));
  }
  const mean = (runs) => ({
    ops: runs.reduce((n, r) => n + r.ops, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    opsPerSec: runs.reduce((n, r) => n + r.opsPerSec, 0) / runs.length,
    p50: runs.reduce((n, r) => n + r.p50, 0) / runs.length,
    p99: runs.reduce((n, r) => n + r.p99, 0) / runs.length,
  });
  const off = mean(offRuns);
  const on = mean(onRuns);
  const each = (runs) => runs.map((r) => Math.round(r.opsPerSec)).join(', ');
  console.log(`PATCH req/s per round, limits off: ${each(offRuns)}; limits on: ${each(onRuns)}`);
  const { script, baseline } = await scriptRun(`${prefix}raw:`);
  printTable(`Rate limiting, ${concurrency} concurrent clients, ${seconds}s each, ${cpus().length} cores`, [
    { name: `PATCH block, limits off (baseline), mean of ${rounds}`, ...off },
    { name: `PATCH block, limits on, mean of ${rounds}`, ...on },
    { name: 'Redis INCR (baseline)', ...baseline },
    { name: 'limiter Lua script, one decision', ...script },
  ]);
  const overhead = (1 - on.opsPerSec / off.opsPerSec) * 100;
  console.log(`limiter overhead on PATCH: ${overhead.toFixed(1)}% of req/s (p99 ${off.p99.toFixed(1)} -> ${on.p99.toFixed(1)} ms)`);
  console.log(`script decisions vs INCR: ${(script.opsPerSec / baseline.opsPerSec).toFixed(2)} of its ops/s`);
  recordFigures('ratelimit', [
    opsFigure(`PATCH block with limits on (mean of ${rounds})`, on, {
      name: `PATCH block with limits off (mean of ${rounds})`,
      result: off,
    }),
    opsFigure('limiter Lua script, one decision', script, { name: 'Redis INCR', result: baseline }),
  ]);
} finally {
  await db.drop();
  await dropRedisPrefix(prefix);
}
