// Session creation under 100 concurrent clients: POST /api/sessions end to end (HTTP,
// validation, key generation, insert with retry) beside the statement it is built on,
// `INSERT ... ON CONFLICT (key) DO NOTHING`, sent straight to PostgreSQL through `pg`
// (the baseline) and through Prisma's $queryRaw (to show the ORM's share), with the same
// pool size, in the same run. Run with `npm run bench:sessions`.
//   BENCH_SECONDS (default 10), BENCH_CONCURRENCY (default 100), BENCH_PORT (default 3901)
import { randomInt } from 'node:crypto';
import pg from 'pg';
import { benchDatabase, closedLoop, dropRedisPrefix, opsFigure, printTable, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 100);
const port = Number(process.env.BENCH_PORT ?? 3901);
const poolSize = 20;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const randomKey = (length) => Array.from({ length }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

const INSERT = `INSERT INTO sessions (id, key, key_length, type_slug, metadata, state, created_at, updated_at)
  VALUES (gen_random_uuid(), $1, $2, 'document', '{}', '{}', now(), now())
  ON CONFLICT (key) DO NOTHING RETURNING id`;

/** Inserts until one lands under a fresh random key, like the server's retry loop. */
const insertLoop = (run) => async () => {
  for (;;) {
    const key = randomKey(6);
    if ((await run(key)) > 0) return;
  }
};

async function baseline(url) {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  try {
    return await closedLoop(
      insertLoop(async (key) => (await pool.query(INSERT, [key, key.length])).rowCount),
      { concurrency, seconds },
    );
  } finally {
    await pool.end();
  }
}

async function throughPrisma(url) {
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const { PrismaClient } = await import('../dist/generated/prisma/client.js');
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }) });
  try {
    return await closedLoop(
      insertLoop(async (key) => (await prisma.$queryRawUnsafe(INSERT, key, key.length)).length),
      { concurrency, seconds },
    );
  } finally {
    await prisma.$disconnect();
  }
}

async function api(url, duration = seconds) {
  const body = JSON.stringify({ typeSlug: 'document', title: 'bench' });
  return closedLoop(
    async () => {
      const res = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`status ${res.status}`);
    },
    { concurrency, seconds: duration },
  );
}

const baseDb = await benchDatabase('raw');
const apiDb = await benchDatabase('api');
const redisPrefix = `tessera-bench:${Date.now()}:`;
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: apiDb.url,
    DB_POOL_MAX: String(poolSize),
    REDIS_PREFIX: redisPrefix,
    // Limits stay on (their cost is part of a create), set so high they never refuse one IP's clients.
    RATE_LIMIT_POLICIES: JSON.stringify({ 'session-creates': { anonymous: { limit: 1_000_000_000, windowSeconds: 10 } } }),
  });
  // The server's own migration run created the schema in apiDb; give the baseline the same schema.
  const { applyMigrations } = await import('../dist/database/migrator.js');
  await applyMigrations(baseDb.url);
  await api(server.url, 2); // warm-up (JIT, pool), discarded
  const rawResult = await baseline(baseDb.url);
  const prismaResult = await throughPrisma(baseDb.url);
  const apiResult = await api(server.url);
  const stats = await fetch(`${server.url}/api/health`).then((r) => r.json());
  printTable(`Session creation, ${concurrency} concurrent clients, ${seconds}s each, ${(await import('node:os')).cpus().length} cores`, [
    { name: 'INSERT ... ON CONFLICT via pg (baseline)', ...rawResult },
    { name: 'same INSERT via Prisma $queryRaw', ...prismaResult },
    { name: 'POST /api/sessions', ...apiResult },
  ]);
  const ratio = (r) =>
    `ops/s ${(r.opsPerSec / rawResult.opsPerSec).toFixed(2)}, p50 ${(r.p50 / rawResult.p50).toFixed(2)}x, p99 ${(r.p99 / rawResult.p99).toFixed(2)}x`;
  console.log(`ratio Prisma/baseline: ${ratio(prismaResult)}`);
  console.log(`ratio POST/baseline:   ${ratio(apiResult)}`);
  console.log(`server health after the run: ${stats.status}`);
  const base = { name: 'INSERT ... ON CONFLICT via pg', result: rawResult };
  recordFigures('sessions', [
    opsFigure('session INSERT via Prisma $queryRaw', prismaResult, base),
    opsFigure('POST /api/sessions', apiResult, base),
  ]);
} finally {
  await server?.stop();
  await baseDb.drop();
  await apiDb.drop();
  await dropRedisPrefix(redisPrefix);
}
