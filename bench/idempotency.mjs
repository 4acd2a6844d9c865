// What an idempotency key costs the hot write path: PATCH of a block without a key, then
// the same PATCH with a fresh Idempotency-Key on every request (looked up, leased, recorded
// with the write), in one run on one instance, and the ratio. Then a replay: the same keyed
// PATCH sent again, answered from its record without writing.
// Run with `npm run bench:idempotency`.
//   BENCH_SECONDS (default 5), BENCH_CONCURRENCY (default 16), BENCH_PORT (default 3908)
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { benchDatabase, closedLoop, dropRedisPrefix, httpClient, opsFigure, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const port = Number(process.env.BENCH_PORT ?? 3908);
const prefix = `tessera-bench-idempotency:${Date.now()}:`;

const database = await benchDatabase('idempotency');
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: database.url,
    REDIS_PREFIX: prefix,
    // The limiter's own cost is bench/ratelimit.mjs's subject; here it would refuse the load.
    RATE_LIMIT_ENABLED: 'false',
  });
  const client = httpClient(server.url, { connections: concurrency });
  /** One session with one block per client: no client ever conflicts with another. */
  const targets = async () => {
    const list = [];
    for (let i = 0; i < concurrency; i++) {
      const key = (await client.call('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
      const block = (await client.call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: { n: 0 } })).body;
      list.push({ key, id: block.id, version: block.version });
    }
    return list;
  };
  const patch = (list, keyed) => async (w) => {
    const t = list[w];
    const headers = keyed ? { 'idempotency-key': randomUUID() } : {};
    const body = { version: t.version, content: { text: 'paragraph '.repeat(8), n: t.version } };
    const res = await client.call('PATCH', `/api/sessions/${t.key}/blocks/${t.id}`, body, headers);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    t.version = res.body.version;
  };
  /** Each client replays its one recorded PATCH over and over. */
  const replay = async (list) => {
    const sent = [];
    for (const t of list) {
      const key = randomUUID();
      const body = { version: t.version, content: { n: -1 } };
      const res = await client.call('PATCH', `/api/sessions/${t.key}/blocks/${t.id}`, body, { 'idempotency-key': key });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      sent.push({ path: `/api/sessions/${t.key}/blocks/${t.id}`, body, key });
    }
    return async (w) => {
      const s = sent[w];
      const res = await client.call('PATCH', s.path, s.body, { 'idempotency-key': s.key });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    };
  };

  const results = {};
  for (const [name, keyed] of [
    ['PATCH block, no key', false],
    ['PATCH block, Idempotency-Key', true],
  ]) {
    const op = patch(await targets(), keyed);
    await closedLoop(op, { concurrency, seconds: 2 }); // warm-up, discarded
    results[name] = await closedLoop(op, { concurrency, seconds });
  }
  const replayOp = await replay(await targets());
  await closedLoop(replayOp, { concurrency, seconds: 1 });
  results['PATCH block, replayed'] = await closedLoop(replayOp, { concurrency, seconds });
  client.close();

  const lines = Object.fromEntries(
    Object.entries(results).map(([name, r]) => [
      name,
      { 'ops/s': Math.round(r.opsPerSec), 'p50 ms': r.p50?.toFixed(1), 'p99 ms': r.p99.toFixed(1), errors: r.errors },
    ]),
  );
  console.log(`\nPATCH of a block, one instance, ${concurrency} clients, ${seconds}s each, ${cpus().length} cores`);
  console.table(lines);
  const [without, keyed] = [results['PATCH block, no key'], results['PATCH block, Idempotency-Key']];
  console.log(`throughput with a key / without: ${(keyed.opsPerSec / without.opsPerSec).toFixed(3)}`);
  console.log(`p99 with a key / without: ${(keyed.p99 / without.p99).toFixed(3)}`);
  const baseline = { name: 'PATCH block, no key', result: without };
  recordFigures('idempotency', [
    opsFigure('PATCH block, Idempotency-Key', keyed, baseline),
    opsFigure('PATCH block, replayed', results['PATCH block, replayed'], baseline),
  ]);
} finally {
  await server?.stop();
  await database.drop();
  await dropRedisPrefix(prefix).catch(() => undefined);
}
