// A session at its size budget (SESSION_MAX_BYTES, 8 MiB) read, snapshot and exported at once,
// while /api/health is timed by a process of its own (test/helpers/health-probe.mjs, every
// 20 ms): the worst health answer during those reads, beside the worst answer of the same
// server with nothing else running, in the same run. A read that stalls the event loop shows
// as a health answer that waits for it; the API promises none waits past 200 ms.
// Run with `npm run bench:bigread`.
//   BENCH_SECONDS (default 10: how long health is timed with nothing else running),
//   BENCH_ROUNDS (default 5: rounds of reads), BENCH_PORT (default 3907)
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import { benchDatabase, dropRedisPrefix, percentile, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const port = Number(process.env.BENCH_PORT ?? 3907);

/** A request whose answer is kept as bytes: the benchmark never parses 8 MiB itself. */
async function call(url, method, path, body) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}
const json = async (url, method, path, body) => {
  const res = await call(url, method, path, body);
  return { status: res.status, body: JSON.parse(res.bytes.toString()) };
};

/** Starts the probe; `stop()` resolves with every answer's latency (ms) and the failures. */
async function probeHealth(url) {
  const child = spawn(process.execPath, ['test/helpers/health-probe.mjs', url, '20'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => (output += chunk));
  while (!output.startsWith('ready\n')) {
    if (child.exitCode !== null) throw new Error(`the health probe exited with ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    async stop() {
      child.stdin.end();
      if (child.exitCode === null) await once(child, 'exit');
      return JSON.parse(output.slice('ready\n'.length));
    },
  };
}

const summary = (times) => {
  const sorted = [...times.latencies].sort((a, b) => a - b);
  return { answers: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), worst: sorted.at(-1) ?? 0 };
};

const baseDb = await benchDatabase('bigread');
const redisPrefix = `tessera-bench:${Date.now()}:`;
let server;
try {
  server = await startServer({
    PORT: String(port),
    DATABASE_URL: baseDb.url,
    REDIS_PREFIX: redisPrefix,
    RUN_WORKERS: 'true',
    // The limits' own cost is bench/ratelimit.mjs's subject; here they would refuse the fill.
    RATE_LIMIT_ENABLED: 'false',
  });
  const url = server.url;

  // Fill one session to within one block of its budget: 65,000-byte blocks, 14 per batch.
  const key = (await json(url, 'POST', '/api/sessions', { typeSlug: 'document' })).body.key;
  const block = { type: 'text', content: { t: 'x'.repeat(65_000) } };
  for (;;) {
    const res = await call(url, 'POST', `/api/sessions/${key}/blocks/batch`, {
      ops: Array.from({ length: 14 }, () => ({ op: 'create', ...block })),
    });
    if (res.status === 413) break;
    if (res.status !== 200) throw new Error(`batch: status ${res.status}`);
  }
  while ((await call(url, 'POST', `/api/sessions/${key}/blocks`, block)).status === 201);
  const documentBytes = (await call(url, 'GET', `/api/sessions/${key}`)).bytes.length;

  const idleProbe = await probeHealth(url);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const idle = summary(await idleProbe.stop());

  const loaded = [];
  for (let round = 0; round < rounds; round++) {
    const probe = await probeHealth(url);
    const started = performance.now();
    let times;
    try {
      const [session, blocks, snapshot, exported] = await Promise.all([
        call(url, 'GET', `/api/sessions/${key}`),
        call(url, 'GET', `/api/sessions/${key}/blocks`),
        json(url, 'POST', `/api/sessions/${key}/snapshots`, {}),
        json(url, 'POST', `/api/sessions/${key}/exports`, { format: 'json' }),
      ]);
      if ([session.status, blocks.status, snapshot.status, exported.status].join() !== '200,200,201,202') {
        throw new Error(`round ${round}: statuses ${session.status}, ${blocks.status}, ${snapshot.status}, ${exported.status}`);
      }
      for (const deadline = Date.now() + 60_000; ;) {
        const job = await json(url, 'GET', `/api/jobs/${exported.body.jobId}`);
        if (job.body.state === 'completed') break;
        if (job.body.state === 'failed' || Date.now() > deadline) throw new Error(`round ${round}: export ${job.body.state}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      times = await probe.stop();
    }
    if (times.failures.length > 0) throw new Error(`round ${round}: health failed ${JSON.stringify(times.failures)}`);
    loaded.push({ ...summary(times), seconds: (performance.now() - started) / 1000 });
  }

  console.log(
    `\n/api/health (timed from its own process every 20 ms), a ${(documentBytes / 2 ** 20).toFixed(1)} MiB session, ${cpus().length} cores`,
  );
  console.table(
    Object.fromEntries([
      [
        `nothing else running, ${seconds} s`,
        { answers: idle.answers, 'p50 ms': idle.p50.toFixed(1), 'p99 ms': idle.p99.toFixed(1), 'worst ms': idle.worst.toFixed(1) },
      ],
      ...loaded.map((r, i) => [
        `round ${i + 1}: GET session + GET blocks + snapshot + json export (${r.seconds.toFixed(1)} s)`,
        { answers: r.answers, 'p50 ms': r.p50.toFixed(1), 'p99 ms': r.p99.toFixed(1), 'worst ms': r.worst.toFixed(1) },
      ]),
    ]),
  );
  const worst = loaded.map((r) => r.worst).sort((a, b) => a - b);
  const median = worst[Math.floor(worst.length / 2)];
  console.log(
    `worst health answer per round: median ${median.toFixed(0)} ms, best ${worst[0].toFixed(0)} ms, worst ${worst.at(-1).toFixed(0)} ms`,
  );
  console.log(`worst health answer with nothing else running: ${idle.worst.toFixed(0)} ms`);
  recordFigures('bigread', [
    {
      name: `worst /api/health answer while a ${(documentBytes / 2 ** 20).toFixed(0)} MiB session is read, snapshot and exported (median of ${rounds} rounds)`,
      value: median,
      unit: 'ms',
      higherIsBetter: false,
      p50: loaded.map((r) => r.p50).sort((a, b) => a - b)[Math.floor(rounds / 2)],
      p99: loaded.map((r) => r.p99).sort((a, b) => a - b)[Math.floor(rounds / 2)],
      baseline: { name: 'worst /api/health answer with nothing else running', value: idle.worst, p50: idle.p50, p99: idle.p99 },
    },
  ]);
} finally {
  await server?.stop();
  await baseDb.drop();
  await dropRedisPrefix(redisPrefix);
}
