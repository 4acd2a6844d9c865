import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import pg from 'pg';

/** A throwaway database on the local (or BENCH_DATABASE_URL) server; drop() removes it. */
export async function benchDatabase(label) {
  const server = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const name = `tessera_bench_${label}_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Runs the built API (`node dist/main.js --migrate`) and resolves once it answers /api/health/ready. */
export async function startServer(env) {
  // BENCH_SERVER_NODE_ARGS: Node flags for the servers only, e.g. "--cpu-prof --cpu-prof-dir=prof".
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js', '--migrate'], {
    // Queues under the benchmark's prefix too, so dropRedisPrefix leaves nothing behind.
    env: { ...process.env, LOG_LEVEL: 'warn', ...(env.REDIS_PREFIX && { QUEUE_PREFIX: `${env.REDIS_PREFIX}bull` }), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${env.PORT}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/api/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

export function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `concurrency` loops calling `op(worker)` until `seconds` pass; ops/s and latency percentiles in ms. */
export async function closedLoop(op, { concurrency, seconds }) {
  const latencies = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await op(worker);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    errors,
    opsPerSec: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

export function printTable(title, rows) {
  console.log(`\n${title}`);
  console.table(
    Object.fromEntries(
      rows.map((r) => [
        r.name,
        { 'ops/s': Math.round(r.opsPerSec), 'p50 ms': r.p50.toFixed(2), 'p99 ms': r.p99.toFixed(2), ops: r.ops, errors: r.errors },
      ]),
    ),
  );
}

/** Removes every key under a benchmark's Redis prefix (SCAN, never KEYS). */
export async function dropRedisPrefix(prefix, url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379') {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * A keep-alive HTTP client much lighter than fetch: on a small machine the load
 * generator shares the CPU with the server, so its own cost must stay small.
 */
export function httpClient(base, { connections = 64 } = {}) {
  const { hostname, port } = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const call = (method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        { hostname, port, method, path, agent, headers: { ...(payload && { 'content-type': 'application/json' }), ...headers } },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined, bytes: text.length });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  return { call, close: () => agent.destroy() };
}

/**
 * Hands a benchmark's figures to `npm run bench` (bench/run.mjs), which sets BENCH_RESULTS
 * to a file: one JSON line per figure, each beside the baseline measured in the same run.
 * `higherIsBetter: false` marks figures like memory or overhead, where less is better.
 */
export function recordFigures(bench, figures) {
  const file = process.env.BENCH_RESULTS;
  if (!file) return;
  for (const figure of figures) {
    const ratio = figure.baseline && figure.baseline.value ? figure.value / figure.baseline.value : null;
    appendFileSync(file, `${JSON.stringify({ bench, higherIsBetter: true, ...figure, ratio })}\n`);
  }
}

/** A closed-loop result as a figure: ops/s with its latency percentiles. */
export function opsFigure(name, result, baseline) {
  // Throughput-only runs (a queue drained) have no per-operation latency to report.
  const timed = result.p50 > 0 || result.p99 > 0;
  return {
    name,
    value: result.opsPerSec,
    unit: 'ops/s',
    ...(timed && { p50: result.p50, p99: result.p99 }),
    errors: result.errors,
    ...(baseline && {
      baseline: { name: baseline.name, value: baseline.result.opsPerSec, p50: baseline.result.p50, p99: baseline.result.p99 },
    }),
  };
}
