// Background jobs, each figure beside a baseline measured in the same run:
//  - export jobs end to end: POST /api/sessions/:key/exports on a server running its own
//    workers, then GET /api/jobs/:id until the job has completed (render, gzip, store, record);
//    beside the same client's GET /api/sessions/:key (one cached HTTP read) as the floor;
//  - queue throughput of a job that does nothing: BullMQ workers going through Tessera's
//    worker path (its worker options, the job dispatcher with its timeout and error mapping)
//    beside bare BullMQ workers with a no-op processor, on the same Redis and concurrency.
// Run with `npm run bench:jobs`.
//   BENCH_SECONDS (default 10), BENCH_CONCURRENCY (export clients, default 16),
//   BENCH_JOBS (no-op jobs per run, default 20000), BENCH_PORT (default 3904)
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { benchDatabase, closedLoop, dropRedisPrefix, httpClient, opsFigure, printTable, recordFigures, startServer } from './lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const jobCount = Number(process.env.BENCH_JOBS ?? 20_000);
const port = Number(process.env.BENCH_PORT ?? 3904);
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const artifactsDir = join(tmpdir(), `tessera-bench-artifacts-${randomBytes(3).toString('hex')}`);

async function exportRun(db, prefix) {
  const server = await startServer({
    PORT: String(port),
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    QUEUE_PREFIX: `${prefix}bull`,
    ARTIFACTS_DIR: artifactsDir,
    RUN_WORKERS: 'true',
    PASSWORD_HASH_COST: '10',
    JWT_SECRET: 'bench-jwt-secret-0123456789-0123456789-abcdef',
    RATE_LIMIT_ENABLED: 'false',
    ENABLE_ARTIFACT_CLEANUP: 'false',
  });
  const client = httpClient(server.url, { connections: concurrency * 2 });
  try {
    const email = `bench-${randomBytes(6).toString('hex')}@example.test`;
    const { accessToken } = (await client.call('POST', '/api/auth/register', { email, password: 'bench-password' })).body;
    const auth = { authorization: `Bearer ${accessToken}` };
    const keys = [];
    for (let i = 0; i < concurrency; i++) {
      const key = (await client.call('POST', '/api/sessions', { typeSlug: 'document', title: `Export ${i}` }, auth)).body.key;
      const ops = Array.from({ length: 50 }, (_, n) => ({
        op: 'create',
        type: n % 5 ? 'text' : 'heading',
        content: { text: `Block ${n} `.repeat(8) },
      }));
      await client.call('POST', `/api/sessions/${key}/blocks/batch`, { ops }, auth);
      keys.push(key);
    }
    const formats = ['json', 'markdown', 'html'];
    let n = 0;
    const exportOnce = async (worker) => {
      const res = await client.call('POST', `/api/sessions/${keys[worker]}/exports`, { format: formats[n++ % 3] }, auth);
      if (res.status !== 202) throw new Error(`status ${res.status}`);
      for (;;) {
        const job = (await client.call('GET', `/api/jobs/${res.body.jobId}`, undefined, auth)).body;
        if (job.state === 'completed') return;
        if (job.state === 'failed') throw new Error(job.error);
        await sleep(5);
      }
    };
    const read = async (worker) => {
      const res = await client.call('GET', `/api/sessions/${keys[worker]}`, undefined, auth);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    };
    await closedLoop(exportOnce, { concurrency, seconds: 2 }); // warm-up, discarded
    const exports = await closedLoop(exportOnce, { concurrency, seconds });
    const reads = await closedLoop(read, { concurrency, seconds });
    return { exports, reads };
  } finally {
    client.close();
    await server.stop();
  }
}

/** Adds `jobCount` no-op jobs, then times how long `startWorkers` takes to complete them all. */
async function drain(prefix, name, startWorkers) {
  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue(name, { connection, prefix });
  for (let i = 0; i < jobCount; i += 1000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1000, jobCount - i) }, () => ({ name: 'noop', data: {}, opts: { removeOnComplete: true } })),
    );
  }
  const started = performance.now();
  const workers = startWorkers(connection);
  let done = 0;
  await new Promise((resolve) => {
    for (const worker of workers) {
      worker.on('completed', () => {
        if (++done === jobCount) resolve();
      });
    }
  });
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  return { ops: jobCount, errors: 0, opsPerSec: jobCount / elapsed, p50: 0, p99: 0 };
}

async function queueRuns(prefix) {
  const { JobDispatcher } = await import('../dist/workers/job.dispatcher.js');
  const { JobName } = await import('../dist/queues/queue.names.js');
  const { workerOptions } = await import('../dist/queues/queue.options.js');
  const { loadConfig } = await import('../dist/config/app-config.js');
  const config = loadConfig({ REDIS_URL: redisUrl, QUEUE_PREFIX: `${prefix}bull` });
  // Every job name gets a handler (the dispatcher's start check), each one doing nothing.
  const handlers = Object.values(JobName).map((job) => ({ job, handle: async () => null }));
  // The dispatcher finds its handlers through Nest's discovery at start; here they are handed to it.
  const discovery = { getProviders: () => handlers.map((instance) => ({ instance })) };
  const dispatcher = new JobDispatcher(discovery, config);
  dispatcher.onModuleInit();
  const tesseraOptions = { ...workerOptions(config, 'collaboration'), autorun: true };
  const noopName = JobName.SweepPresence;
  const concurrencyOf = tesseraOptions.concurrency;
  // Alternating and averaged, bare first: the first run of a process also warms the JIT.
  const rounds = [];
  for (let round = 0; round < 2; round++) {
    const bare = await drain(`${prefix}b${round}`, 'collaboration', (connection) => [
      new Worker('collaboration', async () => null, { connection, prefix: `${prefix}b${round}`, concurrency: concurrencyOf }),
    ]);
    const tessera = await drain(`${prefix}t${round}`, 'collaboration', (connection) => [
      new Worker(
        'collaboration',
        (job, token, signal) => dispatcher.run('collaboration', Object.assign(job, { name: noopName }), token, signal),
        {
          ...tesseraOptions,
          connection,
          prefix: `${prefix}t${round}`,
        },
      ),
    ]);
    rounds.push({ bare, tessera });
  }
  const mean = (pick) => ({ ...pick(rounds[0]), opsPerSec: rounds.reduce((sum, r) => sum + pick(r).opsPerSec, 0) / rounds.length });
  const [tessera, bare] = [mean((r) => r.tessera), mean((r) => r.bare)];
  return { tessera, bare, concurrency: concurrencyOf };
}

const db = await benchDatabase('jobs');
const prefix = `tessera-bench:${Date.now()}:`;
try {
  const { exports, reads } = await exportRun(db, `${prefix}http:`);
  printTable(`Export jobs end to end, ${concurrency} clients, ${seconds} s (${cpus().length} cores, ${new Date().toISOString()})`, [
    { name: 'GET /api/sessions/:key (baseline)', ...reads },
    { name: 'export job: POST, poll, completed', ...exports },
  ]);
  console.log(`export jobs/s relative to a cached read: ${(exports.opsPerSec / reads.opsPerSec).toFixed(3)}`);
  const { tessera, bare, concurrency: workerConcurrency } = await queueRuns(prefix);
  printTable(`No-op job throughput, ${jobCount} jobs, one worker, concurrency ${workerConcurrency}`, [
    { name: 'bare BullMQ worker (baseline)', ...bare },
    { name: "Tessera's worker path", ...tessera },
  ]);
  console.log(`Tessera worker path relative to bare BullMQ: ${(tessera.opsPerSec / bare.opsPerSec).toFixed(3)}`);
  recordFigures('jobs', [
    opsFigure('export job end to end (POST, poll, completed)', exports, { name: 'cached GET /api/sessions/:key', result: reads }),
    opsFigure(`no-op jobs through Tessera's worker path (${jobCount})`, tessera, { name: 'bare BullMQ worker', result: bare }),
  ]);
} finally {
  await db.drop();
  await dropRedisPrefix(prefix, redisUrl);
  await rm(artifactsDir, { recursive: true, force: true });
}
