// Versioned block writes and cached reads, each beside a baseline measured in the same run:
//  - PATCH /api/sessions/:key/blocks/:id (one statement: session lock, conditional update,
//    seq, change log, revision) at 32 concurrent clients, each editing its own block in its
//    own session, beside the bare optimistic UPDATE sent straight through `pg`; and the same
//    PATCH with all 32 clients in ONE session (writes of a session serialise on its seq).
//    The server's write statement is also run alone (its repository, Prisma, no HTTP) to
//    show what the database part costs, and through the server's group commit.
//  - GET /api/sessions/:key on a 95/5 read/write mix over the same sessions, with the cache
//    hit ratio from /api/admin/cache/stats, beside a raw Redis GET of a value of the same size;
//    and cached GETs alone, beside a bare node:http server (its own process, like Tessera)
//    answering the same bytes to the same client at the same concurrency.
//  - POST /api/sessions/:key/blocks (a create: session lock, block-count and budget check,
//    insert, seq, change log, revision), each client in its own session and all in one,
//    beside a bare INSERT of a block row through `pg`; and the server's create statement
//    alone and through its group commit, without HTTP.
// Run with `npm run bench:blocks`.
//   BENCH_SECONDS (default 10), BENCH_CONCURRENCY (default 32), BENCH_PORT (default 3902),
//   BENCH_CREATES_ONLY=1 (only the create phases)
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { benchDatabase, closedLoop, dropRedisPrefix, httpClient, opsFigure, printTable, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 32);
const port = Number(process.env.BENCH_PORT ?? 3902);
const createsOnly = process.env.BENCH_CREATES_ONLY === '1';
const poolSize = 20;
const adminToken = 'bench-admin-token-0123456789';
const content = (n) => ({ text: `paragraph ${n} `.repeat(8), n });

/** `count` sessions with one block each; returns [{key, id, version}]. */
/** The server's own block repository and Prisma client on `url`, to run its statements without HTTP. */
async function serverRepository(url) {
  const { PrismaService } = await import('../dist/database/prisma.service.js');
  const { BlocksRepository } = await import('../dist/blocks/blocks.repository.js');
  const prisma = new PrismaService({
    DATABASE_URL: url,
    DB_POOL_MIN: 2,
    DB_POOL_MAX: poolSize,
    DB_CONNECTION_TIMEOUT: 5000,
    DB_IDLE_TIMEOUT: 30000,
    DB_STATEMENT_TIMEOUT: 15000,
  });
  return { prisma, repository: new BlocksRepository({ client: prisma }) };
}

async function seed(call, count, blocksPerSession = 1) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const key = (await call('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
    for (let j = 0; j < blocksPerSession; j++) {
      const block = (await call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: content(0) })).body;
      out.push({ key, id: block.id, version: block.version });
    }
  }
  return out;
}

/** Worker i only ever touches targets[i]: one writer per block, no self-inflicted conflicts. */
const perClient = (makeOp, targets) => {
  const ops = targets.map((t) => makeOp(t));
  return (worker) => ops[worker % ops.length]();
};

/** The update, read and mixed phases; returns their figures. */
async function updatesAndReads(call) {
  const spread = await seed(call, concurrency);
  const single = await seed(call, 1, concurrency);
  const raw = await seed(call, concurrency);

  const patchOf = (t) => async () => {
    const res = await call('PATCH', `/api/sessions/${t.key}/blocks/${t.id}`, { version: t.version, content: content(t.version) });
    if (res.status === 200) t.version = res.body.version;
    else if (res.status === 409) t.version = res.body.current.version;
    else throw new Error(`status ${res.status}`);
  };
  await closedLoop(perClient(patchOf, spread), { concurrency, seconds: 2 }); // warm-up, discarded

  const pool = new pg.Pool({ connectionString: baseDb.url, max: poolSize });
  const rawOf = (t) => async () => {
    const r = await pool.query('UPDATE blocks SET content = $1, version = version + 1, updated_at = now() WHERE id = $2 AND version = $3', [
      JSON.stringify(content(t.version)),
      t.id,
      t.version,
    ]);
    if (r.rowCount !== 1) throw new Error('lost the race');
    t.version++;
  };
  const baseline = await closedLoop(perClient(rawOf, raw), { concurrency, seconds });
  await pool.end();
  // The server's own write statement, through its own repository and Prisma client, without HTTP.
  const { prisma, repository } = await serverRepository(baseDb.url);
  const { GroupCommit } = await import('../dist/database/group-commit.js');
  const limits = { historyKeep: 50, maxBytes: 8 * 1024 * 1024 };
  const actor = { userId: null, displayName: 'bench' };
  const updateOf = (t) => ({
    access: { key: t.key, userId: null, admin: false },
    id: t.id,
    version: t.version,
    change: { content: content(t.version) },
    kind: 'block.updated',
    meta: { actor, at: new Date() },
  });
  const statementOf = (apply) => (t) => async () => {
    const written = await apply(updateOf(t));
    if (!written) throw new Error('lost the race');
    t.version = written.block.version;
  };
  const alone = (update) => repository.update(update, limits);
  const statement = await closedLoop(perClient(statementOf(alone), raw), { concurrency, seconds });
  // The same writes through the server's group commit (its default tick and batch size).
  const grouping = new GroupCommit({
    maxBatch: 64,
    maxWaitMs: 1,
    keyOf: (update) => update.id,
    applyAll: (updates) => repository.updateMany(updates, limits),
    applyOne: alone,
  });
  const grouped = await closedLoop(
    perClient(
      statementOf((update) => grouping.submit(update)),
      raw,
    ),
    { concurrency, seconds },
  );
  await prisma.$disconnect();
  const patchSpread = await closedLoop(perClient(patchOf, spread), { concurrency, seconds });
  const patchSingle = await closedLoop(perClient(patchOf, single), { concurrency, seconds });

  // 95/5 mix over the spread sessions: reads of whole sessions, writes to their blocks.
  const before = (await call('GET', '/api/admin/cache/stats', undefined, { authorization: `Bearer ${adminToken}` })).body;
  const reads = [];
  let readBytes = 0;
  const mixed = await closedLoop(
    async () => {
      const t = spread[Math.floor(Math.random() * spread.length)];
      if (Math.random() < 0.05) return patchOf(t)();
      const started = performance.now();
      const res = await call('GET', `/api/sessions/${t.key}`);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      readBytes = res.bytes;
      reads.push(performance.now() - started);
    },
    { concurrency, seconds },
  );
  const after = (await call('GET', '/api/admin/cache/stats', undefined, { authorization: `Bearer ${adminToken}` })).body;
  const hits = after.byType.blocks.hits - before.byType.blocks.hits;
  const misses = after.byType.blocks.misses - before.byType.blocks.misses;

  // Cached reads alone (every session was read above, so each GET is a cache hit).
  let cachedBody = '';
  const cachedOnly = await closedLoop(
    async (worker) => {
      const res = await call('GET', `/api/sessions/${spread[worker % spread.length].key}`);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      cachedBody = JSON.stringify(res.body);
    },
    { concurrency, seconds },
  );
  const bodyFile = join(tmpdir(), `tessera-bench-body-${process.pid}.json`);
  writeFileSync(bodyFile, cachedBody);
  const bare = fork(new URL('./bare-http-server.mjs', import.meta.url), {
    env: { ...process.env, PORT: String(port + 50), BODY_FILE: bodyFile },
  });
  await once(bare, 'message');
  const bareClient = httpClient(`http://127.0.0.1:${port + 50}`, { connections: concurrency });
  const bareGet = await closedLoop(
    async () => {
      const res = await bareClient.call('GET', '/api/sessions/bare');
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
    { concurrency, seconds },
  );
  bareClient.close();
  bare.kill('SIGTERM');
  await once(bare, 'exit');

  const redis = new Redis({ keyPrefix: redisPrefix });
  await redis.set('bench:raw', 'x'.repeat(readBytes));
  const redisGet = await closedLoop(() => redis.get('bench:raw'), { concurrency, seconds });
  redis.disconnect();

  reads.sort((a, b) => a - b);
  const readOnly = {
    ops: reads.length,
    errors: 0,
    opsPerSec: reads.length / seconds,
    p50: reads[Math.floor(reads.length / 2)],
    p99: reads[Math.floor(reads.length * 0.99)],
  };
  printTable(`Blocks, ${concurrency} concurrent clients, ${seconds}s each, ${cpus().length} cores`, [
    { name: 'optimistic UPDATE via pg (baseline)', ...baseline },
    { name: 'the write statement via Prisma, no HTTP', ...statement },
    { name: 'the same writes group-committed, no HTTP', ...grouped },
    { name: 'PATCH block, one session per client', ...patchSpread },
    { name: 'PATCH block, all clients in one session', ...patchSingle },
    { name: 'raw Redis GET (baseline)', ...redisGet },
    { name: '95/5 mix: all ops', ...mixed },
    { name: '95/5 mix: GET session (reads only)', ...readOnly },
    { name: 'GET session, cached, reads alone', ...cachedOnly },
    { name: 'bare node:http, the same bytes (baseline)', ...bareGet },
  ]);
  const r = (x, base) => `${(x.opsPerSec / base.opsPerSec).toFixed(2)} of its ops/s, p99 ${x.p99.toFixed(1)} ms`;
  console.log(`write statement (no HTTP) vs pg UPDATE:     ${r(statement, baseline)}`);
  console.log(`group-committed (no HTTP) vs pg UPDATE:     ${r(grouped, baseline)}`);
  console.log(`PATCH (one session per client) vs pg UPDATE: ${r(patchSpread, baseline)}`);
  console.log(`PATCH (one shared session) vs pg UPDATE:     ${r(patchSingle, baseline)}`);
  console.log(`GET session vs raw Redis GET:                ${r(readOnly, redisGet)} (${readBytes} bytes per read)`);
  console.log(`cached GET vs bare node:http:                ${r(cachedOnly, bareGet)} (${cachedBody.length} bytes)`);
  console.log(`cache hit ratio on the 95/5 mix: ${(hits / (hits + misses)).toFixed(3)} (${hits} hits, ${misses} misses)`);
  const update = { name: 'optimistic UPDATE via pg', result: baseline };
  return [
    opsFigure('block write statement via Prisma, no HTTP', statement, update),
    opsFigure('block writes group-committed via Prisma, no HTTP', grouped, update),
    opsFigure('PATCH block, one session per client', patchSpread, update),
    opsFigure('PATCH block, all clients in one session', patchSingle, update),
    opsFigure(`GET session, cached (${readBytes} bytes)`, readOnly, { name: 'raw Redis GET of the same size', result: redisGet }),
    opsFigure(`GET session, cached, reads alone (${cachedBody.length} bytes)`, cachedOnly, {
      name: 'bare node:http answering the same bytes',
      result: bareGet,
    }),
  ];
}

/**
 * The create phases: each client creating blocks in a session of its own, then all of them in
 * one session, beside a bare INSERT of a block row; and the server's create statement without
 * HTTP, alone and group-committed (when the build has one). Returns their figures.
 */
async function creates(call) {
  const fresh = await seed(call, concurrency);
  const single = await seed(call, 1);
  const raw = await seed(call, concurrency);
  const postOf = (t) => async () => {
    const res = await call('POST', `/api/sessions/${t.key}/blocks`, { type: 'text', content: content(0) });
    if (res.status !== 201) throw new Error(`status ${res.status}`);
  };
  await closedLoop(perClient(postOf, fresh), { concurrency, seconds: 2 }); // warm-up, discarded

  const pool = new pg.Pool({ connectionString: baseDb.url, max: poolSize });
  for (const t of raw) t.sessionId = (await pool.query('SELECT id FROM sessions WHERE key = $1', [t.key])).rows[0].id;
  const actor = { userId: null, displayName: 'bench' };
  const insertOf = (t) => async () => {
    await pool.query(
      `INSERT INTO blocks (id, session_id, type, content, position, version, created_at, updated_at, updated_by)
       VALUES (gen_random_uuid(), $1, 'text', $2, $3, 1, now(), now(), $4)`,
      [t.sessionId, JSON.stringify(content(0)), `b${randomUUID()}`, JSON.stringify(actor)],
    );
  };
  const baseline = await closedLoop(perClient(insertOf, raw), { concurrency, seconds });
  await pool.end();

  const rows = [{ name: 'INSERT block row via pg (baseline)', ...baseline }];
  const insert = { name: 'INSERT of a block row via pg', result: baseline };
  const figures = [];
  const { prisma, repository } = await serverRepository(baseDb.url);
  // A build from before block creates were group-committed has no createMany: those rows are left out.
  if (repository.createMany) {
    const { GroupCommit } = await import('../dist/database/group-commit.js');
    const limits = { maxBlocks: 100_000, maxBytes: 8 * 1024 * 1024 };
    const createOf = (t) => ({
      access: { key: t.key, userId: null, admin: false },
      block: { id: randomUUID(), type: 'text', content: content(0), position: `b${randomUUID()}` },
      meta: { actor, at: new Date() },
    });
    const statementOf = (apply) => (t) => async () => {
      if (!(await apply(createOf(t)))) throw new Error('refused');
    };
    const alone = (create) => repository.create(create, limits);
    const statement = await closedLoop(perClient(statementOf(alone), raw), { concurrency, seconds });
    // The same creates through the server's group commit (its default tick and batch size).
    const grouping = new GroupCommit({
      maxBatch: 64,
      maxWaitMs: 1,
      keyOf: (create) => create.access.key,
      applyAll: (creates) => repository.createMany(creates, limits),
      applyOne: alone,
    });
    const grouped = await closedLoop(
      perClient(
        statementOf((create) => grouping.submit(create)),
        raw,
      ),
      { concurrency, seconds },
    );
    rows.push(
      { name: 'the create statement via Prisma, no HTTP', ...statement },
      { name: 'the same creates group-committed, no HTTP', ...grouped },
    );
    figures.push(
      opsFigure('block create statement via Prisma, no HTTP', statement, insert),
      opsFigure('block creates group-committed via Prisma, no HTTP', grouped, insert),
    );
  }
  await prisma.$disconnect();
  const postSpread = await closedLoop(perClient(postOf, fresh), { concurrency, seconds });
  const postSingle = await closedLoop(perClient(postOf, single), { concurrency, seconds });
  rows.push(
    { name: 'POST block, one session per client', ...postSpread },
    { name: 'POST block, all clients in one session', ...postSingle },
  );
  printTable(`Block creates, ${concurrency} concurrent clients, ${seconds}s each, ${cpus().length} cores`, rows);
  const r = (x, base) => `${(x.opsPerSec / base.opsPerSec).toFixed(2)} of its ops/s, p99 ${x.p99.toFixed(1)} ms`;
  for (const row of rows.slice(1)) console.log(`${row.name} vs pg INSERT: ${r(row, baseline)}`);
  figures.push(
    opsFigure('POST block, one session per client', postSpread, insert),
    opsFigure('POST block, all clients in one session', postSingle, insert),
  );
  return figures;
}

const baseDb = await benchDatabase('blocks');
const redisPrefix = `tessera-bench:${Date.now()}:`;
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: baseDb.url,
    DB_POOL_MAX: String(poolSize),
    REDIS_PREFIX: redisPrefix,
    ADMIN_TOKEN: adminToken,
    // The limiter's own cost is bench/ratelimit.mjs's subject; here it would refuse the load.
    RATE_LIMIT_ENABLED: 'false',
    // The create phases add thousands of blocks to one session.
    SESSION_MAX_BLOCKS: '100000',
  });
  const client = httpClient(server.url, { connections: concurrency });
  const call = client.call;
  const figures = [];
  if (!createsOnly) figures.push(...(await updatesAndReads(call)));
  figures.push(...(await creates(call)));
  client.close();
  recordFigures('blocks', figures);
} finally {
  await server?.stop();
  await baseDb.drop();
  await dropRedisPrefix(redisPrefix);
}
