import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { RateLimiter } from '../../src/rate-limit/rate-limiter.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { currentRun } from '../helpers/test-environment.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let nextIp = 1;
const freshIp = () => `198.51.100.${nextIp++}`;

describe('rate limits', () => {
  let a: TestApp;
  let b: TestApp;
  const env = {
    REDIS_PREFIX: `${currentRun().redisPrefix}rl-spec:`,
    TRUST_PROXY: 'true',
    RATE_LIMIT_POLICIES: JSON.stringify({
      'block-edits': { FREE: { limit: 5, windowSeconds: 2 }, global: null },
      'session-saves': { FREE: { limit: 5, windowSeconds: 60 } },
      snapshots: { FREE: { limit: 3, windowSeconds: 60 } },
    }),
    RATE_LIMIT_BLOCK_AFTER: '3',
    RATE_LIMIT_BLOCK_SECONDS: '2',
    KEY_PROBE_LIMIT: '30',
    KEY_PROBE_BLOCK_SECONDS: '2',
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const sessionOf = async (token: string) =>
    (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token })).body.key as string;
  const addBlock = (api: TestApp, key: string, token: string, ip = '203.0.113.9') =>
    api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token, headers: { 'x-forwarded-for': ip } });

  it('allows exactly the limit across two instances, then answers 429 with the headers', async () => {
    const { token } = await createUser();
    const key = await sessionOf(token);
    const first = await addBlock(a, key, token);
    expect(first.status).toBe(201);
    expect([first.headers.get('ratelimit-limit'), first.headers.get('ratelimit-remaining')]).toEqual(['5', '4']);
    expect(Number(first.headers.get('ratelimit-reset'))).toBeGreaterThanOrEqual(1);
    const rest = await Promise.all(Array.from({ length: 20 }, (_, i) => addBlock(i % 2 ? a : b, key, token)));
    expect(rest.filter((r) => r.status === 201)).toHaveLength(4);
    const refused = rest.filter((r) => r.status === 429);
    expect(refused).toHaveLength(16);
    const blocked = refused.filter((r) => r.body.code === 'BLOCKED');
    expect(refused.length - blocked.length).toBeGreaterThanOrEqual(3);
    const limited = refused.find((r) => r.body.code === 'RATE_LIMITED')!;
    expect(limited.body).toMatchObject({ status: 429, retryAfter: expect.any(Number) });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    await a.request('POST', '/api/admin/rate-limits/reset', {
      token: ADMIN_TOKEN,
      body: { userId: (await a.request('GET', '/api/auth/me', { token })).body.id },
    });
  });

  it('slides: requests are allowed again once the oldest leave the window', async () => {
    const { token } = await createUser();
    const key = await sessionOf(token);
    for (let i = 0; i < 5; i++) expect((await addBlock(i % 2 ? a : b, key, token)).status).toBe(201);
    const refused = await addBlock(a, key, token);
    expect(refused.status).toBe(429);
    await sleep(Number(refused.headers.get('retry-after')) * 1000 + 100);
    expect((await addBlock(b, key, token)).status).toBe(201);
  });

  it('a keyed write the limit refuses takes no idempotency lease: its retry runs once the window frees', async () => {
    const { token } = await createUser();
    const key = await sessionOf(token);
    for (let i = 0; i < 5; i++) expect((await addBlock(i % 2 ? a : b, key, token)).status).toBe(201);
    const idem = { 'idempotency-key': `refused-${freshIp()}`, 'x-forwarded-for': '203.0.113.9' };
    const body = { type: 'text', content: { keyed: true } };
    const refused = await a.request('POST', `/api/sessions/${key}/blocks`, { body, token, headers: idem });
    expect(refused).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED' } });
    await sleep(Number(refused.headers.get('retry-after')) * 1000 + 100);
    // A lease taken by the refused request would hold the key for 15 s: 409 IDEMPOTENCY_KEY_IN_USE.
    const retried = await b.request('POST', `/api/sessions/${key}/blocks`, { body, token, headers: idem });
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    const replayed = await a.request('POST', `/api/sessions/${key}/blocks`, { body, token, headers: idem });
    expect([replayed.status, replayed.headers.get('idempotent-replayed'), replayed.body.id]).toEqual([201, 'true', retried.body.id]);
  });

  it('bounds keyed refusals: a flood of session saves, deletes, restores and snapshot refusals gets 429 and records nothing past the limit', async () => {
    const { token } = await createUser();
    const key = await sessionOf(token);
    const run = `${Date.now().toString(36)}-${nextIp}`;
    const keyed = (i: number | string) => ({ token, headers: { 'idempotency-key': `flood-${run}-${i}` } });
    const recorded = async (prefix: string) =>
      testDb().idempotencyRecord.count({ where: { key: { startsWith: `flood-${run}-${prefix}` } } });
    // Stale saves, each under a key of its own: a refusal each (409, recorded), until the window (5) is used up.
    const saves = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? a : b).request('PATCH', `/api/sessions/${key}`, { ...keyed(i), body: { version: 99, title: 'stale' } }),
      ),
    );
    expect(saves.map((r) => r.status).sort()).toEqual([...Array(5).fill(409), ...Array(7).fill(429)]);
    expect(await testDb().idempotencyRecord.count({ where: { key: { startsWith: `flood-${run}-` } } })).toBe(5);
    const restore = await a.request('POST', `/api/sessions/${key}/snapshots/${randomUUID()}/restore`, keyed('restore'));
    expect(restore.status).toBe(429);
    const removal = await a.request('DELETE', `/api/sessions/${key}`, keyed('delete'));
    expect(removal.status).toBe(429);
    expect((await recorded('restore')) + (await recorded('delete'))).toBe(0);
    // Snapshots count only what they create, but a keyed refusal is recorded, so it keeps its unit (another
    // caller: the first one is blocked a while for its repeated 429s).
    const snap = await createUser();
    const snapKey = await sessionOf(snap.token);
    const snapshots = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        a.request('POST', `/api/sessions/${snapKey}/snapshots`, {
          token: snap.token,
          headers: { 'idempotency-key': `flood-${run}-s${i}` },
          body: { label: 7 },
        }),
      ),
    );
    expect(snapshots.map((r) => r.status).sort()).toEqual([...Array(3).fill(400), ...Array(5).fill(429)]);
    expect(await recorded('s')).toBe(3);
    // Unkeyed refusals still give their unit back: nothing is recorded for them.
    const other = await createUser();
    const otherKey = await sessionOf(other.token);
    for (let i = 0; i < 5; i++) {
      const res = await a.request('POST', `/api/sessions/${otherKey}/snapshots`, { token: other.token, body: { label: 7 } });
      expect(res.status).toBe(400);
    }
    expect((await a.request('POST', `/api/sessions/${otherKey}/snapshots`, { token: other.token, body: {} })).status).toBe(201);
  });

  it('counts a batch as one edit per op', async () => {
    const { token } = await createUser();
    const key = await sessionOf(token);
    const ops = (n: number) => ({ ops: Array.from({ length: n }, () => ({ op: 'create', type: 'text', content: {} })) });
    const batch = await a.request('POST', `/api/sessions/${key}/blocks/batch`, { body: ops(4), token });
    expect([batch.status, batch.headers.get('ratelimit-remaining')]).toEqual([200, '1']);
    expect((await a.request('POST', `/api/sessions/${key}/blocks/batch`, { body: ops(2), token })).status).toBe(429);
    expect((await addBlock(b, key, token)).status).toBe(201);
  });

  it('applies a plan change at once: PRO block edits are unlimited and send no headers', async () => {
    const { token, user } = await createUser();
    const key = await sessionOf(token);
    for (let i = 0; i < 5; i++) await addBlock(a, key, token);
    expect((await addBlock(a, key, token)).status).toBe(429);
    await a.request('PATCH', `/api/admin/users/${user.id}`, { token: ADMIN_TOKEN, body: { plan: 'PRO' } });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => addBlock(i % 2 ? a : b, key, token)));
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
    expect(results[0].headers.get('ratelimit-limit')).toBeNull();
  });

  it('blocks repeat offenders for a while, and an operator can lift it', async () => {
    const { token, user } = await createUser();
    const key = await sessionOf(token);
    for (let i = 0; i < 5; i++) await addBlock(a, key, token);
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await addBlock(i % 2 ? a : b, key, token)).body.code);
    expect(codes).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED', 'BLOCKED']);
    const stats = (await a.request('GET', '/api/admin/rate-limits/stats', { token: ADMIN_TOKEN })).body;
    expect(stats.topOffenders).toContainEqual({ identity: `user:${user.id}`, refusals: 4 });
    const reset = await b.request('POST', '/api/admin/rate-limits/reset', { token: ADMIN_TOKEN, body: { userId: user.id } });
    expect(reset.body).toEqual({ reset: `user:${user.id}` });
    expect((await addBlock(a, key, token)).status).toBe(201);
  });

  it('blocks an IP that probes unknown keys: the 31st lookup answers BLOCKED, on every key route, on every instance', async () => {
    const { token } = await createUser();
    const key = await sessionOf(token);
    const prober = freshIp();
    const lookup = (api: TestApp, k: string, ip = prober) =>
      api.request('GET', `/api/sessions/${k}`, { headers: { 'x-forwarded-for': ip } });
    const answers = [];
    // 12-character keys: well-formed, but never generated while the 3-character space has room (other suites' sessions share the database).
    const unknown = (i: number) => `QZ${String(i).padStart(10, '0')}`;
    for (let i = 0; i < 30; i++) answers.push((await lookup(i % 2 ? a : b, i % 3 ? unknown(i) : 'bad-key')).status);
    expect(answers.every((s) => s === 404 || s === 400)).toBe(true);
    const thirtyFirst = await lookup(a, key);
    expect([thirtyFirst.status, thirtyFirst.body.code]).toEqual([429, 'BLOCKED']);
    expect(
      (
        await b.request('POST', `/api/sessions/${key}/blocks`, {
          body: { type: 'text', content: {} },
          headers: { 'x-forwarded-for': prober },
        })
      ).body.code,
    ).toBe('BLOCKED');
    expect((await lookup(b, key, freshIp())).status).toBe(200);
    expect(
      (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, headers: { 'x-forwarded-for': prober } })).status,
    ).toBe(201);
    const stats = (await a.request('GET', '/api/admin/rate-limits/stats', { token: ADMIN_TOKEN })).body;
    // Both refusals of the blocked IP (the GET and the POST) are key-probe decisions.
    expect(stats.byAction['session-lookup']).toMatchObject({ limited: 1, blocked: 2 });
    expect(stats.topOffenders).toContainEqual({ identity: `ip:${prober}`, refusals: expect.any(Number) });
    await sleep(2100);
    expect((await lookup(a, key)).status).toBe(200);
  });

  it('counts allowed, limited and blocked decisions by action, cluster-wide', async () => {
    const { token } = await createUser();
    const key = await sessionOf(token);
    const before = (await a.request('GET', '/api/admin/rate-limits/stats', { token: ADMIN_TOKEN })).body;
    for (let i = 0; i < 7; i++) await addBlock(i % 2 ? a : b, key, token);
    const after = (await b.request('GET', '/api/admin/rate-limits/stats', { token: ADMIN_TOKEN })).body;
    expect(after.byAction['block-edits'].allowed - before.byAction['block-edits'].allowed).toBe(5);
    expect(after.byAction['block-edits'].limited - before.byAction['block-edits'].limited).toBe(2);
    expect(after.allowed - before.allowed).toBe(5);
    expect((await a.request('GET', '/api/admin/rate-limits/stats', { token })).status).toBe(403);
    expect((await a.request('POST', '/api/admin/rate-limits/reset', { token: ADMIN_TOKEN, body: { ip: 'not an ip' } })).status).toBe(400);
  });

  it('is off with RATE_LIMIT_ENABLED=false', async () => {
    const off = await startTestApp({ ...env, RATE_LIMIT_ENABLED: 'false' });
    try {
      const { token } = await createUser();
      const key = (await off.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token })).body.key;
      const results = await Promise.all(Array.from({ length: 8 }, () => addBlock(off, key, token)));
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
      expect(results[0].headers.get('ratelimit-limit')).toBeNull();
    } finally {
      await off.close();
    }
  });

  it('keeps limiting per instance while Redis is away, never failing a request, and goes back to Redis after', async () => {
    // A TCP relay to Redis that the test can cut and restore.
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(6379, '127.0.0.1');
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const port = (relay.address() as net.AddressInfo).port;
    const api = await startTestApp({ ...env, REDIS_URL: `redis://127.0.0.1:${port}` });
    const limiter = api.app.get(RateLimiter);
    try {
      const { token } = await createUser();
      const key = (await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token })).body.key;
      expect((await addBlock(api, key, token)).status).toBe(201);
      expect(limiter.fallbackDecisions).toBe(0);
      await new Promise<void>((r) => relay.close(() => r()) && sockets.forEach((s) => s.destroy()));
      const during = [];
      for (let i = 0; i < 7; i++) during.push((await addBlock(api, key, token)).status);
      expect(during).toEqual([201, 201, 201, 201, 201, 429, 429]);
      expect(limiter.fallbackDecisions).toBe(7);
      expect((await api.request('GET', '/api/health')).body.status).toBe('degraded');
      await new Promise<void>((r) => relay.listen(port, '127.0.0.1', r));
      for (let i = 0; i < 100 && (await api.request('GET', '/api/health')).body.status !== 'ok'; i++) await sleep(100);
      await sleep(2100);
      expect((await addBlock(api, key, token)).status).toBe(201);
      expect(limiter.fallbackDecisions).toBe(7);
    } finally {
      await api.close();
      relay.close();
      sockets.forEach((s) => s.destroy());
    }
  });
});
