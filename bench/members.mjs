// What membership costs the hot write path: PATCH of a block on private sessions without
// members (written by the owner), then on sessions with BENCH_MEMBERS (20) members (written
// by one of them), in one run on one instance, and the ratio. The roles are read from the
// session row the write locks anyway, so the goal is at most 10% more.
// Run with `npm run bench:members`.
//   BENCH_SECONDS (default 5), BENCH_CONCURRENCY (default 16), BENCH_MEMBERS (default 20), BENCH_PORT (default 3907)
import { cpus } from 'node:os';
import { benchDatabase, closedLoop, dropRedisPrefix, httpClient, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
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

  const lines = {};
  for (const [name, withMembers] of [
    ['PATCH block, no members', false],
    [`PATCH block, ${memberCount} members`, true],
  ]) {
    const op = patch(await targets(withMembers));
    await closedLoop(op, { concurrency, seconds: 2 }); // warm-up, discarded
    const result = await closedLoop(op, { concurrency, seconds });
    lines[name] = {
      'ops/s': Math.round(result.opsPerSec),
      'p50 ms': result.p50?.toFixed(1),
      'p99 ms': result.p99.toFixed(1),
      errors: result.errors,
    };
  }
  client.close();
  const [without, withM] = Object.values(lines);
  console.log(`\nPATCH of a block, one instance, ${concurrency} clients, ${seconds}s each, ${cpus().length} cores`);
  console.table(lines);
  console.log(`throughput with ${memberCount} members / without: ${(withM['ops/s'] / without['ops/s']).toFixed(3)}`);
  console.log(`p99 with ${memberCount} members / without: ${(Number(withM['p99 ms']) / Number(without['p99 ms'])).toFixed(3)}`);
} finally {
  await server?.stop();
  await database.drop();
  await dropRedisPrefix(prefix).catch(() => undefined);
}
