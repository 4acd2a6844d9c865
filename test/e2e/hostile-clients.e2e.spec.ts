import { randomBytes } from 'node:crypto';
import type { Socket as NetSocket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { io, type Socket } from 'socket.io-client';
import { CollabHandshake } from '../../src/collaboration/collab.handshake.js';
import { CollabServer } from '../../src/collaboration/collab.server.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ack, connected, socketFrom, until } from '../helpers/sockets.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

const PROBE_LIMIT = 10;
let nextIp = 1;
const freshIp = () => `198.18.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`;
/** 12-character keys: well-formed, but never generated while the 3-character space has room. */
const unknownKey = (i: number) => `QX${String(i).padStart(10, '0')}`;

const tcpOf = (socket: Socket) => (socket.io.engine as unknown as { transport: { ws: { _socket: NetSocket } } }).transport.ws._socket;

/**
 * What an attacker tried against two instances, each with the contract's outcome: key
 * probing bounded whatever the concurrency, revocation without a window, exact connection
 * slots, slow consumers cut, socket payloads checked like HTTP bodies.
 */
describe('hostile clients, two instances', () => {
  let a: TestApp;
  let b: TestApp;
  const sockets: Socket[] = [];
  const env = {
    ...isolatedRedis('hostile-clients'),
    TRUST_PROXY: 'true',
    KEY_PROBE_LIMIT: String(PROBE_LIMIT),
    KEY_PROBE_WINDOW_SECONDS: '60',
    KEY_PROBE_BLOCK_SECONDS: '60',
  };

  beforeAll(async () => {
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const lookup = (api: TestApp, key: string, ip: string) =>
    api.request('GET', `/api/sessions/${key}`, { headers: { 'x-forwarded-for': ip } });

  it('1,000 concurrent lookups of unknown keys from one IP get exactly KEY_PROBE_LIMIT "no such session" answers, on two instances', async () => {
    const ip = freshIp();
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => lookup(i % 2 ? a : b, unknownKey(i), ip)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 404)).toHaveLength(PROBE_LIMIT);
    expect(statuses.every((s) => s === 404 || s === 429)).toBe(true);
    const { token } = await createUser();
    const known = (await a.request('POST', '/api/sessions', { token, body: { typeSlug: 'document' } })).body.key as string;
    const after = await lookup(b, known, ip);
    expect([after.status, after.body.code]).toEqual([429, 'BLOCKED']);
    expect(Number(after.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await lookup(a, known, freshIp())).status).toBe(200);
  });

  it('an honest burst from one IP (a shared NAT) with more lookups in flight than probe slots is delayed, never refused', async () => {
    const ip = freshIp();
    const { token } = await createUser();
    const known = (await a.request('POST', '/api/sessions', { token, body: { typeSlug: 'document' } })).body.key as string;
    const answers = await Promise.all(Array.from({ length: 10 * PROBE_LIMIT }, (_, i) => lookup(i % 2 ? a : b, known, ip)));
    const answered = answers.map((r) => `${r.status} ${r.body?.code ?? ''}`.trim());
    expect(answered.filter((a) => a !== '200')).toEqual([]);
  });

  it('a PUT that creates proves the key was free: it counts as a miss', async () => {
    const ip = freshIp();
    const put = (i: number) =>
      (i % 2 ? a : b).request('PUT', `/api/sessions/${unknownKey(5000 + i)}`, {
        headers: { 'x-forwarded-for': ip },
        body: { typeSlug: 'document' },
      });
    const statuses = (await Promise.all(Array.from({ length: 40 }, (_, i) => put(i)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(PROBE_LIMIT);
    expect(statuses.every((s) => s === 201 || s === 429)).toBe(true);
    // A taken key answers 200 and is not a miss: another IP re-PUTs every created key, more often than the limit.
    const other = freshIp();
    const created = statuses.flatMap((s, i) => (s === 201 ? [i] : []));
    for (const i of [...created, ...created]) {
      const again = await b.request('PUT', `/api/sessions/${unknownKey(5000 + i)}`, {
        headers: { 'x-forwarded-for': other },
        body: { typeSlug: 'document' },
      });
      expect(again.status).toBe(200);
    }
  });

  it('a flood of session.join from one socket is bounded the same way', async () => {
    const socket = await connected(socketFrom(a, freshIp()));
    sockets.push(socket);
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => ack(socket, 'session.join', { key: unknownKey(9000 + i) })));
    const codes = acks.map((r: { code?: string }) => r.code);
    expect(codes.filter((c) => c === 'SESSION_NOT_FOUND')).toHaveLength(PROBE_LIMIT);
    expect(codes.every((c) => c === 'SESSION_NOT_FOUND' || c === 'RATE_LIMITED' || c === 'BLOCKED')).toBe(true);
    expect(acks.filter((r: { code?: string }) => r.code === 'BLOCKED').every((r: { retryAfter?: number }) => (r.retryAfter ?? 0) > 0)).toBe(
      true,
    );
  });

  it('counts IPv6 callers by their /64', async () => {
    const prefix = '2001:db8:77:1';
    for (let i = 1; i <= PROBE_LIMIT; i++)
      expect((await lookup(a, unknownKey(20_000 + i), `${prefix}::${i.toString(16)}`)).status).toBe(404);
    expect((await lookup(b, unknownKey(20_100), `${prefix}:abcd:1:2:3`)).body.code).toBe('BLOCKED');
    expect((await lookup(b, unknownKey(20_101), '2001:db8:77:2::1')).status).toBe(404);
  });

  it('socket payloads pass the JSON checks of HTTP bodies; unknown events and malformed keys get a negative ack', async () => {
    const { token } = await createUser();
    const key = (await a.request('POST', '/api/sessions', { token, body: { typeSlug: 'document' } })).body.key as string;
    const socket = await connected(socketFrom(b, freshIp(), token));
    sockets.push(socket);
    expect(await ack(socket, 'session.join', { key })).toMatchObject({ ok: true });
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const hostile = [
      { text: 'nul \u0000 inside' },
      { text: 'lone \ud800 surrogate' },
      { deep },
      JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>,
      { constructor: { prototype: { polluted: true } } },
      { bytes: Buffer.from('binary attachment') },
    ];
    for (const content of hostile) {
      const answer = await ack(socket, 'block.create', { key, type: 'text', content });
      expect(answer).toMatchObject({ ok: false, code: 'VALIDATION_FAILED', status: 400 });
    }
    expect(await ack(socket, 'no.such.event', { key })).toMatchObject({ ok: false, code: 'UNKNOWN_EVENT' });
    expect(await ack(socket, 'session.leave', { key: '../../etc' })).toMatchObject({ ok: false, code: 'INVALID_SESSION_KEY' });
    expect(await ack(socket, 'block.create', 'not an object')).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    const blocks = (await a.request('GET', `/api/sessions/${key}/blocks`, { token })).body.items as unknown[];
    expect(blocks).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(socket.connected).toBe(true);
  });

  it('revocation has no window: a socket flooding joins while the owner makes the session private never gets a later change', async () => {
    const { token } = await createUser();
    let leaks = 0;
    for (let trial = 0; trial < 30; trial++) {
      const key = (await a.request('POST', '/api/sessions', { token, body: { typeSlug: 'document' } })).body.key as string;
      const block = (await a.request('POST', `/api/sessions/${key}/blocks`, { token, body: { type: 'text', content: { n: 0 } } })).body;
      const reader = await connected(socketFrom(trial % 2 ? a : b, freshIp()));
      const seen: number[] = [];
      reader.on('change', (change: { seq: number }) => seen.push(change.seq));
      let flooding = true;
      const flood = (async () => {
        while (flooding) await Promise.all(Array.from({ length: 4 }, () => ack(reader, 'session.join', { key }).catch(() => undefined)));
      })();
      await new Promise((r) => setTimeout(r, trial % 5));
      const saved = await (trial % 2 ? b : a).request('PATCH', `/api/sessions/${key}`, {
        token,
        body: { version: 1, visibility: 'private' },
      });
      expect(saved.status).toBe(200);
      const revokedAt = saved.body.seq as number;
      let version = block.version as number;
      for (let n = 1; n <= 3; n++) {
        const res = await (n % 2 ? a : b).request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
          token,
          body: { version, content: { n } },
        });
        version = res.body.version;
      }
      await new Promise((r) => setTimeout(r, 50));
      flooding = false;
      await flood;
      if (seen.some((seq) => seq > revokedAt)) leaks++;
      reader.close();
    }
    expect(leaks).toBe(0);
  }, 120_000);
});

describe('connections and slow consumers', () => {
  let api: TestApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    api = await startTestApp({
      ...isolatedRedis('hostile-connections'),
      WS_MAX_CONNECTIONS: '5',
      WS_MAX_BUFFERED_BYTES: String(64 * 1024),
    });
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await api.close();
    await closeTestDb();
  });

  const live = () => api.app.get(CollabHandshake).connections;
  const open = (token: string) =>
    io(`${api.url}/collab`, { path: '/socket.io', transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });

  it('handshakes reset mid-way and connections reset after connecting free their slots at once', async () => {
    const { token } = await createUser();
    // Reset the TCP connection as soon as the namespace's connect packet (with a valid token) is on its way.
    for (let i = 0; i < 60; i++) {
      const socket = open(token);
      await new Promise<void>((resolve) => {
        socket.io.engine.once('open', () =>
          setImmediate(() => {
            tcpOf(socket).resetAndDestroy();
            resolve();
          }),
        );
      });
      socket.close();
    }
    for (let i = 0; i < 5; i++) {
      const socket = await connected(open(token));
      tcpOf(socket).resetAndDestroy();
    }
    await until(() => live() === 0, 5000);
    const held: Socket[] = [];
    for (let i = 0; i < 5; i++) {
      held.push(await connected(open(token)));
    }
    sockets.push(...held);
    const sixth = open(token);
    const refusal = await new Promise<{ data?: { code?: string } }>((resolve) => sixth.once('connect_error', resolve));
    sixth.close();
    expect(refusal.data?.code).toBe('SERVER_FULL');
    held.forEach((s) => s.close());
    await until(() => live() === 0, 5000);
  }, 60_000);

  it('a socket that stops reading is disconnected once its unsent data passes WS_MAX_BUFFERED_BYTES', async () => {
    const { token } = await createUser();
    const key = (await api.request('POST', '/api/sessions', { token, body: { typeSlug: 'document' } })).body.key as string;
    const block = (await api.request('POST', `/api/sessions/${key}/blocks`, { token, body: { type: 'text', content: { t: '' } } })).body;
    const slow = await connected(open(token));
    sockets.push(slow);
    expect(await ack(slow, 'session.join', { key })).toMatchObject({ ok: true });
    const id = slow.id!;
    const namespace = api.app.get(CollabServer).namespace;
    expect(namespace.sockets.has(id)).toBe(true);
    tcpOf(slow).pause();
    let version = block.version as number;
    // Incompressible, so per-message deflate cannot shrink what piles up.
    const text = randomBytes(45_000).toString('base64');
    for (let n = 0; n < 400 && namespace.sockets.has(id); n++) {
      const res = await api.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
        token,
        body: { version, content: { t: `${n}${text}` } },
      });
      version = res.body.version;
    }
    await until(() => !namespace.sockets.has(id), 5000);
    // A paused socket never reads the server's close: end it here, or it holds the test process open.
    tcpOf(slow).destroy();
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/socket_slow_consumers_total [1-9]/);
  }, 60_000);
});
