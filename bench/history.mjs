// Time travel and diff on a large session: 5,000 blocks (BENCH_BLOCKS) and a full change log
// of 1,000 kept updates (CHANGES_KEEP), read at the oldest kept seq (the walk back over the
// whole log), at the middle of the log, and diffed from the oldest kept seq to now; beside
// the current view of the same session read uncached (`?atSeq=<seq now>`, the same statement
// with nothing to walk back) and through the cache (plain GET), in the same run.
// Run with `npm run bench:history`.
//   BENCH_SECONDS (default 5, per measured read), BENCH_BLOCKS (default 5000), BENCH_PORT (default 3908)
import { benchDatabase, closedLoop, dropRedisPrefix, printTable, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const blockCount = Number(process.env.BENCH_BLOCKS ?? 5000);
const port = Number(process.env.BENCH_PORT ?? 3908);
const KEEP = 1000;

async function json(url, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const db = await benchDatabase('history');
const redisPrefix = `tessera-bench:${Date.now()}:`;
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_PREFIX: redisPrefix,
    RATE_LIMIT_ENABLED: 'false',
    CHANGES_KEEP: String(KEEP),
  });
  const url = server.url;
  const key = (await json(url, 'POST', '/api/sessions', { typeSlug: 'document' })).body.key;
  for (let made = 0; made < blockCount; made += 500) {
    const ops = Array.from({ length: Math.min(500, blockCount - made) }, (_, i) => ({
      op: 'create',
      type: 'text',
      content: { text: `block ${made + i}`, done: false },
    }));
    const res = await json(url, 'POST', `/api/sessions/${key}/blocks/batch`, { ops });
    if (res.status !== 200) throw new Error(`fill: status ${res.status}`);
  }
  // A kept log of updates only, spread over the blocks, so the walk back touches 1,000 of them.
  let blocks = (await json(url, 'GET', `/api/sessions/${key}`)).body.blocks;
  for (let round = 0; round < KEEP / 100 + 1; round++) {
    const ops = Array.from({ length: 100 }, (_, i) => {
      const b = blocks[(round * 100 + i) % blocks.length];
      return { op: 'update', id: b.id, version: b.version, content: { text: `${b.content.text}, edit ${round}`, done: true } };
    });
    const res = await json(url, 'POST', `/api/sessions/${key}/blocks/batch`, { ops });
    if (res.status !== 200) throw new Error(`edits: status ${res.status}`);
    blocks = (await json(url, 'GET', `/api/sessions/${key}`)).body.blocks;
  }
  const seq = (await json(url, 'GET', `/api/sessions/${key}`)).body.seq;
  const oldest = seq - (KEEP - 1);
  const middle = seq - KEEP / 2;
  const get = (path) => async () => {
    const res = await fetch(`${url}${path}`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
  };
  const measure = (path) => closedLoop(get(path), { concurrency: 1, seconds });
  const cached = await measure(`/api/sessions/${key}`);
  const now = await measure(`/api/sessions/${key}?atSeq=${seq}`);
  const atOldest = await measure(`/api/sessions/${key}?atSeq=${oldest}`);
  const atMiddle = await measure(`/api/sessions/${key}?atSeq=${middle}`);
  const diff = await measure(`/api/sessions/${key}/diff?from=${oldest}&to=${seq}`);

  printTable(`${blockCount} blocks, ${KEEP} kept changes (seq ${seq}), one request at a time`, [
    { name: 'GET session (cached)', ...cached },
    { name: `GET ?atSeq=${seq} (now, nothing to walk back)`, ...now },
    { name: `GET ?atSeq=${middle} (${KEEP / 2} changes back)`, ...atMiddle },
    { name: `GET ?atSeq=${oldest} (${KEEP - 1} changes back)`, ...atOldest },
    { name: `GET /diff?from=${oldest}&to=${seq}`, ...diff },
  ]);
  const figure = (name, r, base) => ({
    name,
    value: r.p50,
    unit: 'ms',
    higherIsBetter: false,
    p50: r.p50,
    p99: r.p99,
    errors: r.errors,
    baseline: { name: base.name, value: base.result.p50, p50: base.result.p50, p99: base.result.p99 },
  });
  const baseline = { name: 'GET ?atSeq=<seq now> (the same statement, nothing to walk back)', result: now };
  recordFigures('history', [
    figure(`GET ?atSeq= ${KEEP - 1} changes back, ${blockCount} blocks (p50)`, atOldest, baseline),
    figure(`GET /diff over ${KEEP - 1} changes (p50)`, diff, baseline),
    figure('GET ?atSeq=<seq now> (p50)', now, { name: 'GET session through the cache', result: cached }),
  ]);
} finally {
  await server?.stop();
  await db.drop();
  await dropRedisPrefix(redisPrefix);
}
