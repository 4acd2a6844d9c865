import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CacheService } from '../../src/cache/cache.service.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { currentRun } from '../helpers/test-environment.js';
import { until } from '../helpers/sockets.js';
import { RedisService } from '../../src/redis/redis.service.js';

const gate = () => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
};

describe('cache', () => {
  let a: TestApp;
  let b: TestApp;
  let cache: CacheService;
  let owner: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    // Its own Redis prefix, so the hit counters see only this file's traffic.
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}cache-spec:` };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    cache = a.app.get(CacheService);
    owner = await createUser();
    // An instance serves before its Redis connection is up (reading around the cache meanwhile);
    // these tests are about the cache, so they start once both instances have it.
    await until(() => [a, b].every((app) => app.app.get(RedisService).client.status === 'ready'), 10_000);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  describe('getOrSet', () => {
    it('runs one loader for 20 concurrent misses of one key', async () => {
      let loads = 0;
      const release = gate();
      const load = async () => {
        loads++;
        await release.opened;
        return { value: 42 };
      };
      const reads = Array.from({ length: 20 }, () => cache.getOrSet({ type: 'theme', key: 'single-flight' }, load));
      setTimeout(release.open, 50);
      expect(await Promise.all(reads)).toEqual(Array(20).fill({ value: 42 }));
      expect(loads).toBe(1);
      expect(await cache.getOrSet({ type: 'theme', key: 'single-flight' }, load)).toEqual({ value: 42 });
      expect(loads).toBe(1);
    });

    it('never serves a value loaded before an invalidation that landed while it loaded', async () => {
      const entry = { type: 'session' as const, key: 'race', tags: ['session:RACE'] };
      let stored = 'old';
      const loading = gate();
      const release = gate();
      const slowReader = cache.getOrSet(entry, async () => {
        const seen = stored;
        loading.open();
        await release.opened;
        return seen;
      });
      await loading.opened;
      stored = 'new'; // the writer commits...
      await cache.invalidate(entry.tags); // ...and invalidates before acknowledging
      release.open();
      expect(await slowReader).toBe('old'); // the slow read overlapped the write: old is allowed for it
      // but what it wrote back is stamped with the old generation and never served
      expect(await cache.getOrSet(entry, () => Promise.resolve(stored))).toBe('new');
      expect(await b.app.get(CacheService).getOrSet(entry, () => Promise.resolve('loaded on b'))).toBe('new');
    });

    it('reads and fills several entries in one pipeline', async () => {
      const entries = ['m1', 'm2', 'm3'].map((key) => ({ type: 'theme' as const, key, load: () => Promise.resolve({ key }) }));
      expect(await cache.getOrSetMany(entries)).toEqual([{ key: 'm1' }, { key: 'm2' }, { key: 'm3' }]);
      const again = entries.map((e) => ({ ...e, load: () => Promise.resolve({ key: 'reloaded' }) }));
      expect(await cache.getOrSetMany(again)).toEqual([{ key: 'm1' }, { key: 'm2' }, { key: 'm3' }]);
    });
  });

  it('counts hits and misses per type exactly, across both instances', async () => {
    const stats = async () => (await a.request('GET', '/api/admin/cache/stats', { token: ADMIN_TOKEN })).body;
    await b.app.get(CacheService).flushCounters();
    const before = await stats();
    const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key;
    await a.request('GET', `/api/sessions/${key}`, { token: owner.token }); // miss, then filled
    await a.request('GET', `/api/sessions/${key}`, { token: owner.token }); // hit
    await b.request('GET', `/api/sessions/${key}`, { token: owner.token }); // hit, on the other instance
    await b.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token }); // hit: the same document entry
    await b.app.get(CacheService).flushCounters();
    const after = await stats();
    expect(after.byType.blocks.hits - before.byType.blocks.hits).toBe(3);
    expect(after.byType.blocks.misses - before.byType.blocks.misses).toBe(1);
    expect(after).toMatchObject({
      hits: expect.any(Number),
      misses: expect.any(Number),
      hitRatio: expect.any(Number),
      memoryBytes: expect.any(Number),
    });
    expect(after.keys).toBeGreaterThan(0);
    expect(after.byType.blocks.keys).toBeGreaterThan(0);
    expect(after.hitRatio).toBeCloseTo(after.hits / (after.hits + after.misses), 3);
    expect((await a.request('GET', '/api/admin/cache/stats', { token: owner.token })).status).toBe(403);
  });

  it('never shows a read older than an acknowledged write, with writers and readers hammering two instances', async () => {
    const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key;
    const block = (
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n: 0 } }, token: owner.token })
    ).body;
    let acknowledged = 1;
    let stop = false;
    let staleReads = 0;
    let reads = 0;
    const reader = async (api: TestApp) => {
      while (!stop) {
        const floor = acknowledged;
        const res = await api.request('GET', `/api/sessions/${key}`, { token: owner.token });
        reads++;
        if (res.body.blocks[0].version < floor) staleReads++;
      }
    };
    const writer = async () => {
      try {
        await writes();
      } finally {
        // Also when a write fails: the readers stop, so the suite can close its instances.
        stop = true;
      }
    };
    const writes = async () => {
      for (let i = 0; i < 150; i++) {
        const via = i % 2 === 0 ? a : b;
        const other = via === a ? b : a;
        const res = await via.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
          body: { version: acknowledged, content: { n: i + 1 } },
          token: owner.token,
        });
        expect(res.status).toBe(200);
        acknowledged = res.body.version;
        const seen = await other.request('GET', `/api/sessions/${key}/blocks`, { token: owner.token });
        expect(seen.body.items[0]).toMatchObject({ version: acknowledged, content: { n: i + 1 } });
      }
    };
    const before = (await a.request('GET', '/api/admin/cache/stats', { token: ADMIN_TOKEN })).body.byType.blocks.hits;
    await Promise.all([writer(), reader(a), reader(b), reader(a), reader(b)]);
    await Promise.all([a.app.get(CacheService).flushCounters(), b.app.get(CacheService).flushCounters()]);
    const after = (await a.request('GET', '/api/admin/cache/stats', { token: ADMIN_TOKEN })).body.byType.blocks.hits;
    expect(staleReads).toBe(0);
    expect(reads).toBeGreaterThan(150);
    expect(after - before).toBeGreaterThan(0); // the readers were served from the cache, not only around it
    // 150 write-then-read rounds against four readers take ~15 s on a quiet 2-core machine, twice that under CI's load.
  }, 120_000);
});
