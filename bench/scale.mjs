// Scale test of the headline claims, on this machine:
//  1. How many concurrent Socket.IO connections one instance holds (target BENCH_SCALE_SOCKETS,
//     20,000) and its RSS there (budget 1 GiB), with the heap cap the Deployments set
//     (BENCH_SCALE_NODE_OPTIONS, `--max-old-space-size=768`).
//  2. How many concurrent editing users two instances serve (each user updates its own block
//     every 2 s, rooms of 10) with a write-ack p99 under BENCH_SCALE_P99_MS (100 ms): the
//     user count ramps through BENCH_SCALE_USERS until the p99 or the errors break, and the
//     CPU of each component at each step says what broke first.
// The load generator runs in BENCH_SCALE_PROCS separate processes on the same cores as the
// servers, PostgreSQL and Redis: on a small machine it takes its share of the CPU.
// BENCH_SCALE_PHASES (`connections,editing`) picks the parts to run. With
// BENCH_HEAPSNAPSHOT_DIR set, the connections part writes a heap snapshot of the instance at
// rest and one with its sockets there.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { benchDatabase, dropRedisPrefix, httpClient, percentile, recordFigures, startServer } from './lib.mjs';

const target = Number(process.env.BENCH_SCALE_SOCKETS ?? 20_000);
const phases = new Set((process.env.BENCH_SCALE_PHASES ?? 'connections,editing').split(',').map((p) => p.trim()));
// What the Kubernetes Deployments run the API with (k8s/api-deployment.yaml).
const nodeOptions = process.env.BENCH_SCALE_NODE_OPTIONS ?? '--max-old-space-size=768';
const procs = Number(process.env.BENCH_SCALE_PROCS ?? 4);
const steps = (process.env.BENCH_SCALE_USERS ?? '200,400,600,800,1000,1200,1600,2000,2400').split(',').map(Number);
const stepSeconds = Number(process.env.BENCH_SCALE_STEP_SECONDS ?? 10);
const p99Budget = Number(process.env.BENCH_SCALE_P99_MS ?? 100);
const port = Number(process.env.BENCH_PORT ?? 3910);
const ROOM = 10;
const EVERY_MS = 2000;
const TICKS_PER_SECOND = 100;

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
/** Whether the process still runs (a process that has exited has no resident set). */
function alive(pid) {
  try {
    return /VmRSS:/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** CPU ticks (user + system) used so far by each pid. */
function ticks(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

function pidsNamed(name) {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A load process; `onMessage` gets each JSON line it prints. */
function loadProcess(task, onMessage) {
  const child = spawn(process.execPath, ['bench/scale-client.mjs'], {
    env: { ...process.env, SCALE_TASK: JSON.stringify(task) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout }).on('line', (line) => onMessage(JSON.parse(line)));
  return {
    pid: child.pid,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM')))),
  };
}

async function activeConnections(url) {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  return Number(/^active_connections (\S+)$/m.exec(text)?.[1] ?? NaN);
}

const memoryFile = join(tmpdir(), `tessera-bench-memory-${process.pid}.json`);
const mib = (bytes) => bytes / 1024 / 1024;

/** The server's process.memoryUsage() (and a heap snapshot named `label` if asked), from bench/memory-probe.mjs. */
async function memoryOf(server, label) {
  rmSync(memoryFile, { force: true });
  writeFileSync(`${memoryFile}.label`, label);
  process.kill(server.pid, 'SIGUSR2');
  for (const deadline = Date.now() + 300_000; Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (!existsSync(memoryFile)) continue;
    try {
      return { ...JSON.parse(readFileSync(memoryFile, 'utf8')), rss: rssMiB(server.pid) * 1024 * 1024 };
    } catch {
      // still being written
    }
  }
  throw new Error('the server did not report its memory');
}

/** Sockets one process can hold: its open-files limit less what it has open at rest, less a margin. */
function socketRoom(pid) {
  const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ?? Infinity);
  return limit - readdirSync(`/proc/${pid}/fd`).length - 50;
}

/** Part 1: idle sockets on one instance, ramped until the target or until connects fail. */
async function connections(server) {
  const room = socketRoom(server.pid);
  const count = Math.min(target, room);
  if (count < target) {
    console.log(
      `The open-files limit (ulimit -n) leaves the instance room for ${room} sockets: ${count} connections instead of ${target}.`,
    );
  }
  const rest = await memoryOf(server, 'at-rest');
  const before = mib(rest.rss);
  const progress = new Map();
  const done = new Set();
  const perProcess = Math.ceil(count / procs);
  const started = Date.now();
  const loaders = Array.from({ length: procs }, (_, i) =>
    loadProcess({ kind: 'sockets', url: server.url, count: Math.min(perProcess, count - i * perProcess) }, (message) => {
      progress.set(i, message);
      if (message.done) done.add(i);
    }),
  );
  let peak = before;
  // A shared 2-core machine connects ~100 sockets a second: the ramp may take 30 ms a socket.
  while (done.size < procs && Date.now() - started < Math.max(180_000, count * 30)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (!alive(server.pid)) break;
    peak = Math.max(peak, rssMiB(server.pid));
  }
  const seconds = (Date.now() - started) / 1000;
  if (!alive(server.pid)) {
    // Out of memory, most likely (its stderr above says): how far it got is what the clients had connected.
    const connected = [...progress.values()].reduce((n, m) => n + m.connected, 0);
    await Promise.all(loaders.map((l) => l.stop()));
    return { count, died: true, connected, before, peak, rest, seconds };
  }
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const held = await activeConnections(server.url);
  const failed = [...progress.values()].reduce((n, m) => n + m.failed, 0);
  const holding = await memoryOf(server, `with-${held}`);
  const after = mib(holding.rss);
  await Promise.all(loaders.map((l) => l.stop()));
  const perSocket = (field) => (holding[field] - rest[field]) / 1024 / Math.max(1, held);
  return {
    count,
    held,
    failed,
    before,
    after,
    peak: Math.max(peak, after),
    rest,
    holding,
    perSocketKiB: ((after - before) * 1024) / Math.max(1, held),
    heapPerSocketKiB: perSocket('heapUsed'),
    externalPerSocketKiB: perSocket('external'),
    seconds,
  };
}

/** Sessions of ROOM blocks each; one user per block, users alternating between the two instances. */
async function usersFor(count, urls) {
  const api = httpClient(urls[0], { connections: 16 });
  const users = [];
  for (let r = 0; r < Math.ceil(count / ROOM); r++) {
    const key = (await api.call('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
    const ops = Array.from({ length: ROOM }, (_, i) => ({ op: 'create', type: 'text', content: { text: `user ${i}` } }));
    const { items } = (await api.call('POST', `/api/sessions/${key}/blocks/batch`, { ops })).body;
    items.forEach((block, i) => users.push({ url: urls[(r * ROOM + i) % urls.length], key, id: block.id, version: block.version }));
  }
  api.close();
  return users.slice(0, count);
}

/** Part 2: one step of the ramp: `count` users editing for stepSeconds after a warm-up window. */
async function editingStep(count, servers) {
  const users = await usersFor(
    count,
    servers.map((s) => s.url),
  );
  const latencies = [];
  let errors = 0;
  let joined = 0;
  let measuring = false;
  const share = Math.ceil(users.length / procs);
  const loaders = Array.from({ length: procs }, (_, i) =>
    loadProcess({ kind: 'editors', users: users.slice(i * share, (i + 1) * share), everyMs: EVERY_MS, windowMs: 1000 }, (message) => {
      if (message.joined !== undefined) joined += message.joined;
      if (message.latencies && measuring) {
        latencies.push(...message.latencies);
        errors += message.errors;
      }
    }),
  );
  // Measured once everyone has joined and two more seconds passed (connections, JIT, pools warm).
  for (const deadline = Date.now() + 60_000; joined < count && Date.now() < deadline;)
    await new Promise((resolve) => setTimeout(resolve, 100));
  await new Promise((resolve) => setTimeout(resolve, 2000));
  measuring = true;
  await new Promise((resolve) => setTimeout(resolve, stepSeconds * 1000 + 500));
  measuring = false;
  const components = {
    'Tessera instance 1': [servers[0].pid],
    'Tessera instance 2': [servers[1].pid],
    PostgreSQL: pidsNamed('postgres'),
    Redis: pidsNamed('redis-server'),
    'load generator': loaders.map((l) => l.pid),
  };
  const startTicks = Object.fromEntries(Object.entries(components).map(([name, pids]) => [name, ticks(pids)]));
  const measureFrom = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const elapsed = (Date.now() - measureFrom) / 1000;
  const cpu = Object.fromEntries(
    Object.entries(components).map(([name, pids]) => [
      name,
      Math.round(((ticks(pids) - startTicks[name]) / TICKS_PER_SECOND / elapsed) * 100),
    ]),
  );
  await Promise.all(loaders.map((l) => l.stop()));
  latencies.sort((a, b) => a - b);
  return {
    users: count,
    joined,
    writesPerSecond: latencies.length / stepSeconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    cpu,
  };
}

const db = await benchDatabase('scale');
const prefix = `tessera-bench:${Date.now()}:`;
const env = {
  DATABASE_URL: db.url,
  REDIS_PREFIX: prefix,
  RATE_LIMIT_ENABLED: 'false',
  WS_MAX_CONNECTIONS: String(Math.max(target * 2, 20_000)),
  DB_POOL_MAX: '20',
  NODE_OPTIONS: `${nodeOptions} --import=${pathToFileURL(join(import.meta.dirname, 'memory-probe.mjs')).href}`,
  BENCH_MEMORY_FILE: memoryFile,
};
const servers = [];
const figures = [];
try {
  if (phases.has('connections')) {
    servers.push(await startServer({ ...env, PORT: String(port) }));
    const sockets = await connections(servers[0]);
    if (sockets.died) {
      servers.pop();
      console.log(
        `\nConnections on one instance (${cpus().length} cores, ${nodeOptions}): the instance died after ${sockets.connected} of ${sockets.count} connected, ${sockets.seconds.toFixed(0)} s into the ramp (RSS ${sockets.before.toFixed(0)} MiB at rest, heap used ${mib(sockets.rest.heapUsed).toFixed(0)} MiB; last seen ${sockets.peak.toFixed(0)} MiB)`,
      );
      figures.push({
        name: `idle Socket.IO connections held by one instance (${nodeOptions}): died after this many`,
        value: sockets.connected,
        unit: 'sockets',
        baseline: { name: 'target', value: target },
      });
    } else {
      const line = (label, m) =>
        `${label}: RSS ${mib(m.rss).toFixed(0)} MiB, heap used ${mib(m.heapUsed).toFixed(0)} of ${mib(m.heapTotal).toFixed(0)} MiB, external ${mib(m.external).toFixed(0)} MiB (array buffers ${mib(m.arrayBuffers).toFixed(0)})`;
      console.log(
        `\nConnections on one instance (${cpus().length} cores, ${nodeOptions}): ${sockets.held} of ${sockets.count} held, ${sockets.failed} failed, ramp ${sockets.seconds.toFixed(0)} s`,
      );
      console.log(line('at rest', sockets.rest));
      console.log(line(`with ${sockets.held}`, sockets.holding));
      console.log(
        `per connection: ${sockets.perSocketKiB.toFixed(1)} KiB of RSS, ${sockets.heapPerSocketKiB.toFixed(1)} KiB of heap, ${sockets.externalPerSocketKiB.toFixed(1)} KiB external (peak RSS ${sockets.peak.toFixed(0)} MiB)`,
      );
      figures.push(
        {
          name: 'idle Socket.IO connections held by one instance',
          value: sockets.held,
          unit: 'sockets',
          baseline: { name: 'target', value: target },
        },
        {
          name: `RSS of that instance with ${sockets.held} connections (${nodeOptions})`,
          value: sockets.after,
          unit: 'MiB',
          higherIsBetter: false,
          baseline: { name: 'budget (1 GiB)', value: 1024 },
        },
        {
          name: `RSS per idle connection over ${sockets.before.toFixed(0)} MiB at rest (heap ${sockets.heapPerSocketKiB.toFixed(1)} KiB, external ${sockets.externalPerSocketKiB.toFixed(1)} KiB)`,
          value: sockets.perSocketKiB,
          unit: 'KiB',
          higherIsBetter: false,
        },
      );
      // The editing test gets two fresh instances: right after thousands of disconnects, V8 holds
      // dead sockets it collects only when it needs the room, which is the first test's
      // business, not the second's.
      await servers.pop().stop();
    }
  }
  if (!phases.has('editing')) {
    recordFigures('scale', figures);
  } else {
    servers.push(await startServer({ ...env, PORT: String(port) }), await startServer({ ...env, PORT: String(port + 1) }));
    const results = [];
    for (const count of steps) {
      const step = await editingStep(count, servers);
      results.push(step);
      console.log(
        `${String(count).padStart(5)} users: ${step.writesPerSecond.toFixed(0)} writes/s, ack p50 ${step.p50.toFixed(1)} ms, p99 ${step.p99.toFixed(1)} ms, errors ${step.errors}, CPU % ${JSON.stringify(step.cpu)}`,
      );
      if (step.p99 >= p99Budget || step.errors > 0 || step.joined < count) break;
    }
    const within = results.filter((r) => r.p99 < p99Budget && r.errors === 0 && r.joined === r.users);
    const best = within.at(-1);
    const broke = results.find((r) => !within.includes(r));
    const busiest = broke && Object.entries(broke.cpu).sort((a, b) => b[1] - a[1])[0];
    console.log(
      best
        ? `\n${best.users} editing users within p99 < ${p99Budget} ms (p99 ${best.p99.toFixed(1)} ms).`
        : `\nNo step stayed within p99 < ${p99Budget} ms.`,
    );
    if (broke) {
      const used = Object.values(broke.cpu).reduce((a, b) => a + b, 0);
      const capacity = cpus().length * 100;
      console.log(
        `Broke at ${broke.users} users (p99 ${broke.p99.toFixed(1)} ms, ${broke.errors} errors): the processes above used ${used}% of ${capacity}% CPU` +
          `${used >= capacity * 0.85 ? ' (the machine is CPU-bound)' : ''}; the largest share: ${busiest[0]} at ${busiest[1]}%.`,
      );
    } else console.log(`Did not break up to ${steps.at(-1)} users: raise BENCH_SCALE_USERS.`);

    recordFigures('scale', [
      ...figures,
      ...results.map((r) => ({
        name: `${r.users} users editing every 2 s, rooms of 10, 2 instances (write acks; CPU % ${Object.entries(r.cpu)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`,
        value: r.writesPerSecond,
        unit: 'writes/s',
        p50: r.p50,
        p99: r.p99,
        errors: r.errors,
        baseline: {
          name: `p99 budget ${p99Budget} ms: ${r.p99 < p99Budget && r.errors === 0 ? 'within' : 'over'}`,
          value: (r.users / EVERY_MS) * 1000,
        },
      })),
    ]);
  }
} finally {
  rmSync(memoryFile, { force: true });
  rmSync(`${memoryFile}.label`, { force: true });
  await Promise.all(servers.map((s) => s.stop()));
  await db.drop();
  await dropRedisPrefix(prefix);
}
