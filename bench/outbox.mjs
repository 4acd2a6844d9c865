// What the outbox costs when the network returns: 1,000 edits queued while offline (in the
// Node.js file store, and in memory), replayed after the connection comes back, beside the
// same 1,000 edits sent by an online client that awaits each ack (the baseline, same run,
// same server). Every edit is a versioned update of one of 20 blocks. The outbox sends up to
// 16 entries at once when they touch different blocks (its default concurrency); the online
// client sends one edit at a time, as an editor that waits for each answer does.
// Run with `npm run bench:outbox`.
//   BENCH_EDITS (default 1000), BENCH_BLOCKS (default 20), BENCH_PORT (default 3911)
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchDatabase, dropRedisPrefix, httpClient, recordFigures, startServer } from './lib.mjs';

const edits = Number(process.env.BENCH_EDITS ?? 1000);
const blockCount = Number(process.env.BENCH_BLOCKS ?? 20);
const port = Number(process.env.BENCH_PORT ?? 3911);
const prefix = `tessera-bench-outbox:${Date.now()}:`;
const { MemoryOutboxStore, Outbox, TesseraClient } = await import('../src/client/dist/index.js');
const { FileOutboxStore } = await import('../src/client/dist/file-store.js');

const database = await benchDatabase('outbox');
const scratch = mkdtempSync(join(tmpdir(), 'tessera-bench-outbox-'));
let server;
try {
  server = await startServer({ PORT: String(port), DATABASE_URL: database.url, REDIS_PREFIX: prefix, RATE_LIMIT_ENABLED: 'false' });
  const api = httpClient(server.url);
  /** A session with `blockCount` blocks, each at version 1. */
  const session = async () => {
    const key = (await api.call('POST', '/api/sessions', { typeSlug: 'document' })).body.key;
    const blocks = [];
    for (let i = 0; i < blockCount; i++)
      blocks.push((await api.call('POST', `/api/sessions/${key}/blocks`, { type: 'text', content: { n: 0 } })).body.id);
    return { key, blocks };
  };
  const text = 'paragraph '.repeat(8);

  /** The baseline: an online client sends the edits one after another, each ack awaited. */
  const online = async () => {
    const { key, blocks } = await session();
    const client = await new TesseraClient({ url: server.url }).connect();
    const feed = await client.join(key);
    const versions = blocks.map(() => 1);
    const started = performance.now();
    for (let i = 0; i < edits; i++) {
      const b = i % blocks.length;
      const block = await feed.update(blocks[b], versions[b], { content: { n: i, text } });
      versions[b] = block.version;
    }
    const ms = performance.now() - started;
    client.close();
    return { ms, perSecond: edits / (ms / 1000), applied: edits };
  };

  /** Edits queued while offline, then replayed from the store once the client connects. */
  const replay = async (store) => {
    const { key, blocks } = await session();
    const client = new TesseraClient({ url: server.url, socket: { autoConnect: false } });
    const outbox = new Outbox(client, store);
    const versions = blocks.map(() => 1);
    const queueStarted = performance.now();
    for (let i = 0; i < edits; i++) {
      const b = i % blocks.length;
      await outbox.add(key, { op: 'update', id: blocks[b], version: versions[b]++, content: { n: i, text } });
    }
    const queueMs = performance.now() - queueStarted;
    let applied = 0;
    outbox.on('outcome', (outcome) => (applied += outcome.kind === 'applied' ? 1 : 0));
    const started = performance.now();
    client.socket.connect();
    await outbox.settled();
    const ms = performance.now() - started;
    client.close();
    if (applied !== edits) throw new Error(`${applied} of ${edits} edits applied`);
    return { ms, perSecond: edits / (ms / 1000), applied, queueMs };
  };

  await online(); // warm-up, discarded
  const baseline = await online();
  const memory = await replay(new MemoryOutboxStore());
  const file = await replay(new FileOutboxStore(join(scratch, 'outbox.json')));
  api.close();

  console.log(`\n${edits} versioned updates over ${blockCount} blocks, one instance, ${cpus().length} cores`);
  console.table({
    'online, each ack awaited (baseline)': { ms: Math.round(baseline.ms), 'edits/s': Math.round(baseline.perSecond) },
    'outbox replay after reconnect, memory store': {
      ms: Math.round(memory.ms),
      'edits/s': Math.round(memory.perSecond),
      'queued offline in ms': Math.round(memory.queueMs),
    },
    'outbox replay after reconnect, file store': {
      ms: Math.round(file.ms),
      'edits/s': Math.round(file.perSecond),
      'queued offline in ms': Math.round(file.queueMs),
    },
  });
  console.log(`replay (file store) / online: ${(file.perSecond / baseline.perSecond).toFixed(3)} (edits/s)`);
  const base = { name: `online client, ${edits} edits, each ack awaited`, value: baseline.perSecond };
  recordFigures('outbox', [
    {
      name: `outbox replay of ${edits} queued edits after a reconnect, file store`,
      value: file.perSecond,
      unit: 'edits/s',
      baseline: base,
    },
    {
      name: `outbox replay of ${edits} queued edits after a reconnect, memory store`,
      value: memory.perSecond,
      unit: 'edits/s',
      baseline: base,
    },
    {
      name: `time to replay ${edits} queued edits, file store`,
      value: file.ms,
      unit: 'ms',
      higherIsBetter: false,
      baseline: { name: `time to send them online, each ack awaited`, value: baseline.ms },
    },
  ]);
} finally {
  await server?.stop();
  await database.drop();
  await dropRedisPrefix(prefix);
  rmSync(scratch, { recursive: true, force: true });
}
