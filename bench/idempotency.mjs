// What an idempotency key costs the hot write path: PATCH of a block without a key and the
// same PATCH with a fresh Idempotency-Key on every request (leased, recorded by the write's
// own statement), side by side in one run on one instance (half the clients each), and the
// ratio. Then a replay: the same keyed PATCH sent again, answered from its record.
// Run with `npm run bench:idempotency`.
//   BENCH_SECONDS (default 5) per round, BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 16),
//   BENCH_PORT (default 3908), BENCH_RATE_LIMIT (default on: limits on as production runs them,
//   set too high to refuse, so that the key's lease rides in the admission script; off: no
//   admission script, and the lease is a SET NX of its own)
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchDatabase, closedLoop, dropRedisPrefix, httpClient, opsFigure, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const port = Number(process.env.BENCH_PORT ?? 3908);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const limited = process.env.BENCH_RATE_LIMIT !== 'off';
const prefix = `tessera-bench-idempotency:${Date.now()}:`;

const database = await benchDatabase('idempotency');
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: database.url,
    REDIS_PREFIX: prefix,
    // The limiter's own cost is bench/ratelimit.mjs's subject; its default limits would refuse the load.
    RATE_LIMIT_ENABLED: String(limited),
    RATE_LIMIT_POLICIES: JSON.stringify({
      'block-edits': { FREE: { limit: 1_000_000_000, windowSeconds: 10 } },
      'session-creates': { anonymous: { limit: 1_000_000, windowSeconds: 10 } },
    }),
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
  /** Odd clients send a key, even ones none, at the same time; each kind's throughput and latencies. */
  const sideBySide = async (list) => {
    const ops = [patch(list, false), patch(list, true)];
    /** One timed round: each kind's latencies, errors and the round's length. */
    const loop = (duration) => {
      const latencies = [[], []];
      const errors = [0, 0];
      const end = performance.now() + duration * 1000;
      const started = performance.now();
      return Promise.all(
        list.map(async (_, w) => {
          while (performance.now() < end) {
            const t = performance.now();
            try {
              await ops[w % 2](w);
              latencies[w % 2].push(performance.now() - t);
            } catch {
              errors[w % 2]++;
            }
          }
        }),
      ).then(() => ({ latencies, errors, elapsed: (performance.now() - started) / 1000 }));
    };
    await loop(2); // warm-up, discarded
    const all = { latencies: [[], []], errors: [0, 0], elapsed: 0 };
    for (let r = 0; r < rounds; r++) {
      const round = await loop(seconds);
      round.latencies.forEach((l, i) => all.latencies[i].push(...l));
      round.errors.forEach((e, i) => (all.errors[i] += e));
      all.elapsed += round.elapsed;
      const [a, b] = round.latencies.map((l) => l.length);
      console.log(`round ${r + 1}: with a key / without ${(b / a).toFixed(3)}`);
    }
    const [without, keyed] = all.latencies.map((l, i) => {
      l.sort((x, y) => x - y);
      const at = (p) => l[Math.min(l.length - 1, Math.floor((p / 100) * l.length))] ?? 0;
      return { opsPerSec: l.length / all.elapsed, p50: at(50), p99: at(99), errors: all.errors[i] };
    });
    return { 'PATCH block, no key': without, 'PATCH block, Idempotency-Key': keyed };
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

  // Both kinds run at once, half the clients each, so the machine's noise falls on both alike.
  const results = await sideBySide(await targets());
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
  const limits = limited ? 'limits on' : 'limits off';
  console.log(
    `\nPATCH of a block, one instance, ${concurrency} clients (half with a key), ${limits}, ${rounds} x ${seconds}s, ${cpus().length} cores`,
  );
  console.table(lines);
  const [without, keyed] = [results['PATCH block, no key'], results['PATCH block, Idempotency-Key']];
  console.log(`throughput with a key / without: ${(keyed.opsPerSec / without.opsPerSec).toFixed(3)}`);
  console.log(`p99 with a key / without: ${(keyed.p99 / without.p99).toFixed(3)}`);
  const baseline = { name: `PATCH block, no key, ${limits}`, result: without };
  recordFigures('idempotency', [
    opsFigure(`PATCH block, Idempotency-Key, ${limits}, mean of ${rounds} rounds`, keyed, baseline),
    opsFigure(`PATCH block, replayed, ${limits}`, results['PATCH block, replayed'], baseline),
  ]);
} finally {
  await server?.stop();
  await database.drop();
  await dropRedisPrefix(prefix).catch(() => undefined);
}
