// What membership costs the hot write path: PATCH of a block on private sessions without
// members (written by the owner), and on sessions with BENCH_MEMBERS (20) members (written
// by one of them), on one instance. The two phases alternate over BENCH_ROUNDS rounds in one
// run (the order flips each round), so the machine's drift falls on both alike; the means
// and their ratio are reported. The roles are read from the session row the write locks
// anyway, so the goal is with/without >= 0.9.
// Run with `npm run bench:members` (or within `npm run bench`).
//   BENCH_SECONDS (per phase and round, default 5), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 16),
//   BENCH_MEMBERS (default 20), BENCH_PORT (default 3907)
import { cpus } from 'node:os';
import { benchDatabase, closedLoop, dropRedisPrefix, httpClient, opsFigure, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const memberCount = Number(process.env.BENCH_MEMBERS ?? 20);
const port = Number(process.env.BENCH_PORT ?? 3907);
const prefix = 'tessera-bench-members:';

const database = await benchDatabase('members');
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: database.url,
    REDIS_PREFIX: prefix,
    RATE_LIMIT_POLICIES: JSON.stringify({
      'block-edits': { FREE: { limit: 1_000_000_000, windowSeconds: 10 } },
      'session-creates': { FREE: { limit: 1_000_000, windowSeconds: 10 } },
      registrations: { anonymous: { limit: 1_000_000, windowSeconds: 10 } },
      'member-changes': { FREE: { limit: 1_000_000, windowSeconds: 10 } },
    }),
  });
  const client = httpClient(server.url, { connections: concurrency });
  const register = async (i) =>
    (await client.call('POST', '/api/auth/register', { email: `bench-${i}-${Date.now()}@example.test`, password: 'bench-password' })).body;
  const owner = await register('owner');
  const members = [];
  for (let i = 0; i < memberCount; i++) members.push(await register(i));
  const auth = (token) => ({ authorization: `Bearer ${token}` });

  const targets = async (withMembers) => {
    const list = [];
    for (let i = 0; i < concurrency; i++) {
      const key = (await client.call('POST', '/api/sessions', { typeSlug: 'document', visibility: 'private' }, auth(owner.accessToken)))
        .body.key;
      if (withMembers) {
        for (const m of members)
          await client.call('PUT', `/api/sessions/${key}/members/${m.user.id}`, { role: 'editor' }, auth(owner.accessToken));
      }
      const writer = withMembers ? members[i % members.length].accessToken : owner.accessToken;
      const block = (await client.call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: { n: 0 } }, auth(writer))).body;
      list.push({ key, id: block.id, version: block.version, writer });
    }
    return list;
  };
  const patch = (list) => async (w) => {
    const t = list[w];
    const res = await client.call(
      'PATCH',
      `/api/sessions/${t.key}/blocks/${t.id}`,
      { version: t.version, content: { text: 'paragraph '.repeat(8), n: t.version } },
      auth(t.writer),
    );
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    t.version = res.body.version;
  };

  const phases = [
    { name: 'PATCH block, no members', op: patch(await targets(false)), results: [] },
    { name: `PATCH block, ${memberCount} members`, op: patch(await targets(true)), results: [] },
  ];
  for (const phase of phases) await closedLoop(phase.op, { concurrency, seconds: 2 }); // warm-up, discarded
  const ratios = [];
  for (let round = 0; round < rounds; round++) {
    for (const phase of round % 2 ? [...phases].reverse() : phases)
      phase.results.push(await closedLoop(phase.op, { concurrency, seconds }));
    ratios.push(phases[1].results[round].opsPerSec / phases[0].results[round].opsPerSec);
  }
  client.close();

  const mean = (values) => values.reduce((sum, v) => sum + v, 0) / values.length;
  const meanOf = (results) => ({
    opsPerSec: mean(results.map((r) => r.opsPerSec)),
    p50: mean(results.map((r) => r.p50 ?? 0)),
    p99: mean(results.map((r) => r.p99)),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
  });
  const [without, withMembers] = phases.map((phase) => meanOf(phase.results));
  const lines = {};
  for (const phase of phases) {
    phase.results.forEach((r, i) => {
      lines[`${phase.name}, round ${i + 1}`] = {
        'ops/s': Math.round(r.opsPerSec),
        'p50 ms': r.p50?.toFixed(1),
        'p99 ms': r.p99.toFixed(1),
        errors: r.errors,
      };
    });
    const m = meanOf(phase.results);
    lines[`${phase.name}, mean`] = {
      'ops/s': Math.round(m.opsPerSec),
      'p50 ms': m.p50.toFixed(1),
      'p99 ms': m.p99.toFixed(1),
      errors: m.errors,
    };
  }
  console.log(
    `\nPATCH of a block, one instance, ${concurrency} clients, ${rounds} rounds of ${seconds}s per phase, ${cpus().length} cores`,
  );
  console.table(lines);
  console.log(`throughput with ${memberCount} members / without, by round: ${ratios.map((r) => r.toFixed(3)).join(', ')}`);
  console.log(
    `throughput with ${memberCount} members / without, means: ${(withMembers.opsPerSec / without.opsPerSec).toFixed(3)} (goal >= 0.9)`,
  );
  console.log(`p99 with ${memberCount} members / without, means: ${(withMembers.p99 / without.p99).toFixed(3)}`);
  recordFigures('members', [opsFigure(phases[1].name, withMembers, { name: phases[0].name, result: without })]);
} finally {
  await server?.stop();
  await database.drop();
  await dropRedisPrefix(prefix).catch(() => undefined);
}
