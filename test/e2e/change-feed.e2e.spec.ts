import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'socket.io-client';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ack, connect, until } from '../helpers/sockets.js';
import { RoundRobinProxy } from '../helpers/round-robin-proxy.js';
import { openFeed, type SseReader } from '../helpers/sse.js';
import { currentRun } from '../helpers/test-environment.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('change feed (server-sent events), two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;
  const readers: SseReader[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}feed-spec:`, CHANGES_KEEP: '10', SSE_HEARTBEAT_MS: '1000' };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    owner = await createUser({ displayName: 'Owner' });
    other = await createUser({ displayName: 'Other' });
  });
  afterAll(async () => {
    for (const r of readers) r.close();
    for (const s of sockets) s.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const feed = async (app: TestApp, path: string, options: Parameters<typeof openFeed>[2] = {}) => {
    const reader = await openFeed(app.url, path, options);
    readers.push(reader);
    return reader;
  };
  const newSession = async (body: Record<string, unknown> = {}) =>
    (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document', ...body }, token: owner.token })).body.key as string;
  const addOver = (app: TestApp, key: string, n: number) =>
    app.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: owner.token });

  it('streams the backlog after since, then live changes from HTTP and sockets on both instances, in seq order', async () => {
    const key = await newSession();
    for (let n = 1; n <= 3; n++) await addOver(a, key, n);
    const reader = await feed(a, `/api/sessions/${key}/events?since=1`, { token: owner.token });
    expect(reader.status).toBe(200);
    expect(reader.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(reader.headers.get('x-request-id')).toBeTruthy();
    const socket = await connect(b, { token: owner.token });
    sockets.push(socket);
    await ack(socket, 'session.join', { key });
    // Concurrent commits on two instances: their messages may cross, the feed still sends them in order.
    await Promise.all(
      range(4, 23).map((n) =>
        n % 3 === 0 ? ack(socket, 'block.create', { key, type: 'text', content: { n } }) : addOver(n % 2 ? a : b, key, n),
      ),
    );
    await until(() => reader.changes().length === 22, 10_000);
    expect(reader.changes().map((c) => c.seq)).toEqual(range(2, 23));
    expect(reader.events.filter((e) => e.event === 'change').map((e) => e.id)).toEqual(range(2, 23).map(String));
    expect(reader.changes()[0]).toMatchObject({
      seq: 2,
      kind: 'block.created',
      block: { sessionKey: key },
      actor: { userId: owner.user.id },
    });
    // A heartbeat comment every SSE_HEARTBEAT_MS.
    await until(() => reader.comments.includes('keep-alive'), 3000);
  });

  it('resumes with Last-Event-ID on the other instance and misses nothing, while writes go on', async () => {
    const key = await newSession();
    const first = await feed(a, `/api/sessions/${key}/events?since=0`, { token: owner.token });
    let stop = false;
    let written = 0;
    const writing = (async () => {
      const socket = await connect(a, { token: owner.token });
      sockets.push(socket);
      await ack(socket, 'session.join', { key });
      while (!stop && written < 400) {
        written++;
        await Promise.all([addOver(b, key, written), ack(socket, 'block.create', { key, type: 'text', content: { n: -written } })]);
      }
    })();
    await until(() => first.changes().length >= 20, 10_000);
    first.close();
    await first.ended;
    const seen = first.changes().map((c) => c.seq);
    const last = seen[seen.length - 1];
    // An EventSource reopens the URL it had (since=0) and names the last id it got: the header wins.
    const second = await feed(b, `/api/sessions/${key}/events?since=0`, { token: owner.token, lastEventId: String(last) });
    expect(second.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await writing;
    const total = written * 2;
    await until(() => second.changes().length === total - last, 10_000);
    expect([...seen, ...second.changes().map((c) => c.seq)]).toEqual(range(1, total));
  });

  it('resumes through the two-instance proxy: the reopened feed lands on the other instance and misses nothing, in order', async () => {
    const proxy = await new RoundRobinProxy().start();
    try {
      await proxy.add(a.url);
      await proxy.add(b.url);
      expect(proxy.ready).toHaveLength(2);
      const key = await newSession();
      // Only the feeds go through the proxy (writes go to each instance directly), so its round robin
      // sends the first to one instance and the reopened one to the other.
      const first = await openFeed(proxy.url, `/api/sessions/${key}/events?since=0`, { token: owner.token });
      readers.push(first);
      expect(first.status).toBe(200);
      let stop = false;
      let written = 0;
      const writing = (async () => {
        while (!stop && written < 300) {
          written++;
          await Promise.all([addOver(a, key, written), addOver(b, key, -written)]);
        }
      })();
      await until(() => first.changes().length >= 15, 10_000);
      first.close();
      await first.ended;
      const seen = first.changes().map((c) => c.seq);
      const second = await openFeed(proxy.url, `/api/sessions/${key}/events?since=0`, {
        token: owner.token,
        lastEventId: String(seen.at(-1)),
      });
      readers.push(second);
      expect(second.status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await writing;
      const total = written * 2;
      await until(() => second.changes().length === total - seen.at(-1)!, 10_000);
      expect([...seen, ...second.changes().map((c) => c.seq)]).toEqual(range(1, total));
      second.close();
    } finally {
      await proxy.close();
    }
  });

  it('starts at the current seq without since, and answers 410 past the kept log or ahead of the session', async () => {
    const key = await newSession();
    for (let n = 1; n <= 64; n++) await addOver(a, key, n);
    // The log is trimmed after every 64th change (off the write path), to CHANGES_KEEP (10) changes.
    const now = await feed(b, `/api/sessions/${key}/events`, { token: owner.token });
    await addOver(b, key, 65);
    await until(() => now.changes().length === 1);
    expect(now.changes()[0].seq).toBe(65);

    let expired = await feed(a, `/api/sessions/${key}/events?since=1`, { token: owner.token });
    for (let tries = 0; expired.status === 200 && tries < 20; tries++) {
      expired.close();
      await new Promise((r) => setTimeout(r, 100));
      expired = await feed(a, `/api/sessions/${key}/events?since=1`, { token: owner.token });
    }
    expect(expired.status).toBe(410);
    expect(expired.headers.get('content-type')).toContain('application/problem+json');
    expect(expired.problem).toMatchObject({ status: 410, code: 'CHANGES_EXPIRED' });
    expect((await feed(a, `/api/sessions/${key}/events`, { token: owner.token, lastEventId: '2' })).problem).toMatchObject({
      code: 'CHANGES_EXPIRED',
    });
    expect((await feed(a, `/api/sessions/${key}/events?since=999`, { token: owner.token })).status).toBe(410);
    expect((await feed(a, `/api/sessions/${key}/events?since=60`, { token: owner.token })).status).toBe(200);
  });

  it('refuses bad input with 4xx problem+json, and hides a private session from strangers', async () => {
    const key = await newSession({ visibility: 'private' });
    const cases: Array<[string, Parameters<typeof openFeed>[2], number, string]> = [
      [`/api/sessions/${key}/events?since=-1`, { token: owner.token }, 400, 'VALIDATION_FAILED'],
      [`/api/sessions/${key}/events?since=abc`, { token: owner.token }, 400, 'VALIDATION_FAILED'],
      [`/api/sessions/${key}/events?from=1`, { token: owner.token }, 400, 'VALIDATION_FAILED'],
      [`/api/sessions/${key}/events`, { token: owner.token, lastEventId: 'x1' }, 400, 'VALIDATION_FAILED'],
      [`/api/sessions/${key}/events`, { token: owner.token, lastEventId: '99999999999999999' }, 400, 'VALIDATION_FAILED'],
      [`/api/sessions/${key}/events`, { token: other.token }, 404, 'SESSION_NOT_FOUND'],
      [`/api/sessions/${key}/events`, {}, 404, 'SESSION_NOT_FOUND'],
      [`/api/sessions/${key}/events`, { token: 'forged' }, 401, 'INVALID_TOKEN'],
      ['/api/sessions/no-such/events', { token: owner.token }, 400, 'INVALID_SESSION_KEY'],
      ['/api/sessions/ZZZZZZZZ/events', { token: owner.token }, 404, 'SESSION_NOT_FOUND'],
    ];
    for (const [path, options, status, code] of cases) {
      const reader = await feed(a, path, options);
      expect({ path, status: reader.status, code: reader.problem?.code }).toEqual({ path, status, code });
    }
  });

  it('tells a reader who loses access and ends the stream: member removed, visibility lowered, session or account deleted', async () => {
    const key = await newSession({ visibility: 'private' });
    await a.request('PUT', `/api/sessions/${key}/members/${other.user.id}`, { body: { role: 'viewer' }, token: owner.token });
    const member = await feed(b, `/api/sessions/${key}/events?since=0`, { token: other.token });
    expect(member.status).toBe(200);
    await addOver(a, key, 1);
    await until(() => member.changes().length === 2);
    await a.request('DELETE', `/api/sessions/${key}/members/${other.user.id}`, { token: owner.token });
    await member.ended;
    expect(member.events.at(-1)).toEqual({ event: 'revoked', data: JSON.stringify({ key, reason: 'access' }) });
    expect(member.changes().map((c) => c.kind)).toEqual(['member.updated', 'block.created', 'member.removed']);

    const open = await newSession();
    const guest = await feed(b, `/api/sessions/${open}/events?since=0`);
    const ownerFeed = await feed(a, `/api/sessions/${open}/events?since=0`, { token: owner.token });
    await a.request('PATCH', `/api/sessions/${open}`, { body: { version: 1, visibility: 'private' }, token: owner.token });
    await guest.ended;
    expect(guest.changes().map((c) => c.kind)).toEqual(['session.updated']);
    expect(JSON.parse(guest.events.at(-1)!.data)).toEqual({ key: open, reason: 'access' });
    await addOver(a, open, 1);
    await until(() => ownerFeed.changes().length === 2);
    await b.request('DELETE', `/api/sessions/${open}`, { token: owner.token });
    await ownerFeed.ended;
    expect(ownerFeed.events.at(-1)).toEqual({ event: 'revoked', data: JSON.stringify({ key: open, reason: 'deleted' }) });

    // A deleted account's feeds end on every instance, whatever the session's visibility.
    const leaving = await createUser({ displayName: 'Leaving' });
    const linkKey = await newSession();
    const theirFeed = await feed(b, `/api/sessions/${linkKey}/events`, { token: leaving.token });
    expect(theirFeed.status).toBe(200);
    expect((await a.request('DELETE', '/api/auth/me', { token: leaving.token })).status).toBe(204);
    await theirFeed.ended;
    expect(JSON.parse(theirFeed.events.at(-1)!.data)).toEqual({ key: linkKey, reason: 'access' });
  });

  it('caps streams per caller and per instance, and frees the slots of closed streams', async () => {
    const capped = await startTestApp({
      REDIS_PREFIX: `${currentRun().redisPrefix}feed-spec:`,
      SSE_MAX_STREAMS_PER_CLIENT: '2',
      SSE_MAX_STREAMS: '3',
    });
    try {
      const key = await newSession();
      const mine = [
        await feed(capped, `/api/sessions/${key}/events`, { token: owner.token }),
        await feed(capped, `/api/sessions/${key}/events`, { token: owner.token }),
      ];
      const third = await feed(capped, `/api/sessions/${key}/events`, { token: owner.token });
      expect(third.status).toBe(429);
      expect(third.problem).toMatchObject({ code: 'RATE_LIMITED' });
      expect(third.headers.get('retry-after')).toBe('5');
      expect((await feed(capped, `/api/sessions/${key}/events`)).status).toBe(200);
      const full = await feed(capped, `/api/sessions/${key}/events`, { token: other.token });
      expect({ status: full.status, code: full.problem?.code }).toEqual({ status: 503, code: 'SERVER_FULL' });
      mine[0].close();
      await mine[0].ended;
      let again = await feed(capped, `/api/sessions/${key}/events`, { token: owner.token });
      for (let tries = 0; again.status !== 200 && tries < 20; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        again = await feed(capped, `/api/sessions/${key}/events`, { token: owner.token });
      }
      expect(again.status).toBe(200);
      // Shutting down ends every stream (readers resume elsewhere).
      await capped.close();
      await Promise.all([mine[1].ended, again.ended]);
    } finally {
      await capped.close().catch(() => undefined);
    }
  });

  it('cuts a reader that stops reading once its unsent data passes SSE_MAX_BUFFERED_BYTES', async () => {
    const small = await startTestApp({ REDIS_PREFIX: `${currentRun().redisPrefix}feed-spec:`, SSE_MAX_BUFFERED_BYTES: String(64 * 1024) });
    try {
      const key = await newSession();
      const block = (await addOver(a, key, 0)).body;
      const url = new URL(`${small.url}/api/sessions/${key}/events?since=1`);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(url, { headers: { authorization: `Bearer ${owner.token}` } }, resolve);
        req.on('error', reject);
        req.end();
      });
      expect(response.statusCode).toBe(200);
      // The reader reads nothing: the kernel's buffers fill (a few MiB), then the instance's own.
      response.pause();
      const slowEnds = async () =>
        Number(/change_feed_ends_total\{reason="slow"\} (\d+)/.exec(await (await fetch(`${small.url}/metrics`)).text())?.[1] ?? 0);
      const text = 'x'.repeat(60 * 1024);
      let cut = false;
      for (let v = 1; v <= 400 && !cut; v++) {
        const patched = await a.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
          body: { version: v, content: { text, v } },
          token: owner.token,
        });
        expect(patched.status).toBe(200);
        if (v % 10 === 0) cut = (await slowEnds()) === 1;
      }
      expect(cut).toBe(true);
      const metrics = await (await fetch(`${small.url}/metrics`)).text();
      expect(metrics).toMatch(/change_feed_streams 0/);
      // What it had been sent arrives, then the end.
      const closed = new Promise((resolve) => response.socket.once('close', resolve));
      response.resume();
      await closed;
    } finally {
      await small.close();
    }
  }, 60_000);

  it('lets a reader that paused catch up on a backlog far larger than SSE_MAX_BUFFERED_BYTES: pages wait for the connection to drain', async () => {
    const roomy = await startTestApp({
      REDIS_PREFIX: `${currentRun().redisPrefix}feed-backlog:`,
      SSE_MAX_BUFFERED_BYTES: String(64 * 1024),
      CHANGES_MAX_PAGE_BYTES: String(64 * 1024),
    });
    try {
      const key = (await roomy.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
      // About 20 MiB of log: more than the kernel's socket buffers hold for a reader that reads nothing.
      const text = 'y'.repeat(50 * 1024);
      const total = 400;
      const block = (
        await roomy.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token })
      ).body;
      for (let v = 1; v < total; v++) {
        const patched = await roomy.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, {
          body: { version: v, content: { text, v } },
          token: owner.token,
        });
        expect(patched.status).toBe(200);
      }
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(
          new URL(`${roomy.url}/api/sessions/${key}/events?since=0`),
          { headers: { authorization: `Bearer ${owner.token}` } },
          resolve,
        );
        req.on('error', reject);
        req.end();
      });
      expect(response.statusCode).toBe(200);
      response.pause();
      await new Promise((r) => setTimeout(r, 2000));
      let seen = 0;
      let tail = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        const text = tail + chunk;
        seen += text.split('\nevent: change\n').length - 1;
        tail = text.slice(-20);
      });
      response.resume();
      await until(() => seen >= total, 30_000);
      const metrics = await (await fetch(`${roomy.url}/metrics`)).text();
      expect(metrics).not.toMatch(/change_feed_ends_total\{reason="slow"\} [1-9]/);
      expect(metrics).toMatch(/change_feed_streams 1/);
      response.destroy();
    } finally {
      await roomy.close();
    }
  }, 90_000);
});
