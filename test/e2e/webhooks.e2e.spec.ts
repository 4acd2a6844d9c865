import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'socket.io-client';
import { Webhook } from 'standardwebhooks';
import { QueueRegistry } from '../../src/queues/queue.registry.js';
import { SweepWebhooksProcessor } from '../../src/webhooks/webhook-sweep.processor.js';
import { WebhooksRepository } from '../../src/webhooks/webhooks.repository.js';
import { ADMIN_TOKEN, isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { startFakeProvider } from '../helpers/fake-provider.js';
import { scrape } from '../helpers/prometheus.js';
import { ack, connect, until } from '../helpers/sockets.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

/** A real receiver on 127.0.0.1: each path answers with the status its handler picks, and every request is recorded. */
class Receiver {
  readonly requests: Received[] = [];
  private server!: Server;
  url = '';
  status: (path: string, body: string) => number = () => 204;
  reply: (path: string, status: number) => string | Buffer = (_, status) => (status >= 400 ? 'receiver says no' : '');

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const answered = this.status(req.url ?? '', body);
        this.requests.push({ path: req.url ?? '', headers: req.headers, body, answered });
        res.writeHead(answered).end(this.reply(req.url ?? '', answered));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  at(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('webhooks: signed, ordered, retried deliveries of every change', () => {
  let a: TestApp;
  let b: TestApp;
  let receiver: Receiver;
  let owner: Awaited<ReturnType<typeof createUser>>;
  let other: Awaited<ReturnType<typeof createUser>>;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const env = {
      ...isolatedRedis('webhooks-spec'),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: '100',
      WEBHOOK_RETRY_MAX_MS: '400',
      WEBHOOK_DISABLE_AFTER_MS: '6000',
      WEBHOOK_MAX_PER_USER: '8',
    };
    // Workers on one instance only: a change made on the other is delivered all the same.
    [a, b] = await Promise.all([startTestApp({ ...env, RUN_WORKERS: 'true' }), startTestApp(env)]);
    receiver = await new Receiver().start();
    owner = await createUser({ displayName: 'Owner' });
    other = await createUser({ displayName: 'Other' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([a.close(), b.close()]);
    await receiver.close();
    await closeTestDb();
  });

  const newSession = async (token = owner.token) =>
    (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token })).body.key as string;
  const subscribe = async (path: string, sessionKey?: string, token = owner.token, events = ['change']) => {
    const created = await b.request('POST', '/api/webhooks', {
      body: { url: `${receiver.url}${path}`, events, ...(sessionKey && { sessionKey }) },
      token,
    });
    expect(created.status).toBe(201);
    return created.body as { id: string; secret: string };
  };
  const seqsAt = (path: string, secret: string) =>
    receiver.at(path).map((r) => {
      const verified = new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as { type: string; data: { seq: number } };
      expect(verified.type).toBe('change');
      return verified.data.seq;
    });

  it('delivers 100 changes made over HTTP and sockets on both instances once each, in seq order, signed', async () => {
    const key = await newSession();
    const hook = await subscribe('/ordered', key);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const socket = await connect(b, { token: owner.token });
    sockets.push(socket);
    await ack(socket, 'session.join', { key });
    const writes = [];
    for (let n = 1; n <= 100; n++) {
      writes.push(
        n % 3 === 0
          ? ack(socket, 'block.create', { key, type: 'text', content: { n } })
          : (n % 2 ? a : b).request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: owner.token }),
      );
    }
    await Promise.all(writes);
    await until(() => receiver.at('/ordered').length >= 100, 30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(seqsAt('/ordered', hook.secret)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const first = JSON.parse(receiver.at('/ordered')[0].body);
    expect(first).toEqual({
      type: 'change',
      timestamp: expect.any(String),
      data: expect.objectContaining({
        sessionKey: key,
        seq: 1,
        kind: 'block.created',
        actor: { userId: owner.user.id, displayName: 'Owner' },
      }),
    });
    const log = await a.request('GET', `/api/webhooks/${hook.id}/deliveries?limit=3`, { token: owner.token });
    expect(log.status).toBe(200);
    expect(log.body.items).toHaveLength(3);
    expect(log.body.items[0]).toMatchObject({ event: 'change', seq: 100, attempt: 1, status: 'delivered', responseStatus: 204 });
    expect(log.body.nextCursor).toEqual(expect.any(String));
  }, 60_000);

  it('holds later changes back while the receiver fails, then delivers everything in order with the same webhook-id per change', async () => {
    const key = await newSession();
    const hook = await subscribe('/flaky', key);
    let failing = true;
    receiver.status = (path) => (path === '/flaky' && failing ? 503 : 204);
    let lagBefore: number;
    try {
      for (let n = 1; n <= 5; n++) {
        await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: owner.token });
      }
      await until(() => receiver.at('/flaky').length >= 4, 10_000);
      // Only the first change was tried while it failed: nothing overtook it.
      expect(new Set(receiver.at('/flaky').map((r) => r.headers['webhook-id'])).size).toBe(1);
      // The log opens with what is still to come: the lane's next change, being retried.
      const waiting = (await a.request('GET', `/api/webhooks/${hook.id}/deliveries?limit=100`, { token: owner.token })).body.items;
      expect(waiting[0]).toMatchObject({
        event: 'change',
        seq: 1,
        status: 'pending',
        responseStatus: null,
        eventId: receiver.at('/flaky')[0].headers['webhook-id'],
      });
      expect(waiting[0].attempt).toBeGreaterThan(1);
      const during = await scrape(b);
      expect(during.value('webhook_oldest_pending_seconds', { state: 'retrying' })).toBeGreaterThan(0);
      expect(during.value('webhook_oldest_failing_seconds')).toBeGreaterThan(0);
      lagBefore = (await scrape(a)).value('webhook_delivery_lag_seconds_count');
      expect(waiting.filter((d: any) => d.status === 'pending')).toHaveLength(1);
      const onePage = await a.request('GET', `/api/webhooks/${hook.id}/deliveries?limit=1`, { token: owner.token });
      expect(onePage.body.items.map((d: any) => d.status)).toEqual(['pending']);
      const next = await a.request('GET', `/api/webhooks/${hook.id}/deliveries?limit=1&cursor=${onePage.body.nextCursor}`, {
        token: owner.token,
      });
      expect(next.body.items.map((d: any) => [d.seq, d.status])).toEqual([[1, 'failed']]);
      failing = false;
      await until(() => receiver.at('/flaky').filter((r) => r.answered === 204).length === 5, 10_000);
    } finally {
      receiver.status = () => 204;
    }
    // Every change delivered was timed from its commit (the worker runs on a).
    let lagCount = 0;
    for (let tries = 0; tries < 50 && lagCount < lagBefore + 5; tries++) {
      lagCount = (await scrape(a)).value('webhook_delivery_lag_seconds_count');
      if (lagCount < lagBefore + 5) await new Promise((r) => setTimeout(r, 100));
    }
    expect(lagCount).toBeGreaterThanOrEqual(lagBefore + 5);
    const requests = receiver.at('/flaky');
    const ids = new Map<number, Set<string>>();
    for (const r of requests) {
      const seq = (JSON.parse(r.body) as { data: { seq: number } }).data.seq;
      ids.set(seq, (ids.get(seq) ?? new Set()).add(String(r.headers['webhook-id'])));
      expect(new Webhook(hook.secret).verify(r.body, r.headers as Record<string, string>)).toBeTruthy();
    }
    expect([...ids.keys()]).toEqual([1, 2, 3, 4, 5]);
    for (const set of ids.values()) expect(set.size).toBe(1);
    expect(requests.filter((r) => r.answered === 204).map((r) => JSON.parse(r.body).data.seq)).toEqual([1, 2, 3, 4, 5]);
    const log = (await a.request('GET', `/api/webhooks/${hook.id}/deliveries?limit=100`, { token: owner.token })).body.items;
    expect(log.find((d: any) => d.status === 'failed')).toMatchObject({ seq: 1, responseStatus: 503, responseExcerpt: 'receiver says no' });
  }, 30_000);

  it('delivers the next change after a receiver answered 2xx with binary bytes (NUL, invalid and cut UTF-8), and logs a text excerpt', async () => {
    const me = await createUser({ displayName: 'Binary' });
    const key = await newSession(me.token);
    const hook = await subscribe('/binary', key, me.token);
    // NUL, a lone continuation byte, then the first two bytes of a three-byte character cut off.
    receiver.reply = (path, status) =>
      path === '/binary'
        ? Buffer.concat([Buffer.from('ok'), Buffer.from([0x00, 0x80, 0x41, 0xe2, 0x82])])
        : status >= 400
          ? 'receiver says no'
          : '';
    receiver.status = (path) => (path === '/binary' ? 200 : 204);
    try {
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n: 1 } }, token: me.token });
      await until(() => receiver.at('/binary').length >= 1, 10_000);
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n: 2 } }, token: me.token });
      await until(() => receiver.at('/binary').length >= 2, 10_000);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      receiver.reply = (_, status) => (status >= 400 ? 'receiver says no' : '');
      receiver.status = () => 204;
    }
    // Each change once: the first was not sent again for want of a log row.
    expect(seqsAt('/binary', hook.secret)).toEqual([1, 2]);
    const log = (await a.request('GET', `/api/webhooks/${hook.id}/deliveries`, { token: me.token })).body.items;
    expect(log.map((d: any) => [d.seq, d.status, d.responseStatus, d.responseExcerpt])).toEqual([
      [2, 'delivered', 200, 'ok\uFFFDA'],
      [1, 'delivered', 200, 'ok\uFFFDA'],
    ]);
  }, 30_000);

  it('disables a webhook whose deliveries all failed for WEBHOOK_DISABLE_AFTER_MS, and re-enabling resumes it', async () => {
    const key = await newSession();
    const hook = await subscribe('/down', key);
    receiver.status = (path) => (path === '/down' ? 500 : 204);
    try {
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token });
      let view: any;
      for (let tries = 0; tries < 100; tries++) {
        view = (await a.request('GET', `/api/webhooks/${hook.id}`, { token: owner.token })).body;
        if (!view.enabled) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(view).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('HTTP 500') });
    } finally {
      receiver.status = () => 204;
    }
    // Disabled: nothing more is tried, whatever is committed.
    await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token });
    const tried = receiver.at('/down').length;
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at('/down').length).toBe(tried);
    // Re-enabled: both changes go out, in order, without waiting for another one.
    const patched = await a.request('PATCH', `/api/webhooks/${hook.id}`, { body: { enabled: true }, token: owner.token });
    expect(patched.body).toMatchObject({ enabled: true, disabledReason: null });
    await until(() => receiver.at('/down').filter((r) => r.answered === 204).length === 2, 10_000);
    expect(
      receiver
        .at('/down')
        .filter((r) => r.answered === 204)
        .map((r) => JSON.parse(r.body).data.seq),
    ).toEqual([1, 2]);
  }, 30_000);

  it('keeps a webhook for every session enabled while one session fails but another delivers, and disables it once nothing is delivered', async () => {
    const me = await createUser({ displayName: 'Half failing' });
    const failing = await newSession(me.token);
    const working = await newSession(me.token);
    const hook = await subscribe('/half', undefined, me.token);
    receiver.status = (path, body) => (path === '/half' && body.includes(failing) ? 500 : 204);
    const view = async () => (await a.request('GET', `/api/webhooks/${hook.id}`, { token: me.token })).body;
    try {
      await a.request('POST', `/api/sessions/${failing}/blocks`, { body: { type: 'text', content: {} }, token: me.token });
      // Longer than WEBHOOK_DISABLE_AFTER_MS (6 s): the other session delivers a change every 750 ms meanwhile.
      const started = Date.now();
      while (Date.now() - started < 9000) {
        await a.request('POST', `/api/sessions/${working}/blocks`, { body: { type: 'text', content: {} }, token: me.token });
        await new Promise((r) => setTimeout(r, 750));
      }
      expect(receiver.at('/half').filter((r) => r.body.includes(failing)).length).toBeGreaterThan(10);
      expect(await view()).toMatchObject({ enabled: true, disabledReason: null });
      // Now nothing is delivered any more: the window passes and the failing lane disables it.
      let last: any;
      for (let tries = 0; tries < 75; tries++) {
        last = await view();
        if (!last.enabled) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(last).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('HTTP 500') });
    } finally {
      receiver.status = () => 204;
    }
    const delivered = receiver.at('/half').filter((r) => r.answered === 204);
    expect(delivered.length).toBeGreaterThanOrEqual(10);
  }, 45_000);

  it('redelivers a logged attempt on request, with its webhook-id, and logs it as a further attempt', async () => {
    const key = await newSession();
    const hook = await subscribe('/again', key);
    await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token });
    await until(() => receiver.at('/again').length === 1, 10_000);
    let log: any[] = [];
    for (let tries = 0; log.length === 0 && tries < 50; tries++) {
      log = (await a.request('GET', `/api/webhooks/${hook.id}/deliveries`, { token: owner.token })).body.items;
      if (log.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    const again = await b.request('POST', `/api/webhooks/${hook.id}/deliveries/${log[0].id}/redeliver`, { token: owner.token });
    expect(again.status).toBe(202);
    expect(again.body).toEqual({ deliveryId: log[0].id, eventId: log[0].eventId });
    await until(() => receiver.at('/again').length === 2, 10_000);
    const [first, second] = receiver.at('/again');
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    // The attempt is logged once the receiver has answered.
    let attempts: any[] = [];
    for (let tries = 0; attempts.length < 2 && tries < 50; tries++) {
      attempts = (await a.request('GET', `/api/webhooks/${hook.id}/deliveries`, { token: owner.token })).body.items;
      if (attempts.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(attempts.map((d: any) => [d.eventId, d.attempt, d.status])).toEqual([
      [log[0].eventId, 2, 'delivered'],
      [log[0].eventId, 1, 'delivered'],
    ]);
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect((await a.request('POST', `/api/webhooks/${hook.id}/deliveries/${unknown}/redeliver`, { token: owner.token })).body.code).toBe(
      'DELIVERY_NOT_FOUND',
    );
    expect((await a.request('POST', `/api/webhooks/${hook.id}/deliveries/${log[0].id}/redeliver`, { token: other.token })).body.code).toBe(
      'WEBHOOK_NOT_FOUND',
    );
  });

  it('delivers job.completed of a session job to the webhooks that asked for it, signed, and only to them', async () => {
    const key = await newSession();
    const created = await b.request('POST', '/api/webhooks', {
      body: { url: `${receiver.url}/jobs`, events: ['job.completed', 'job.failed'], sessionKey: key },
      token: owner.token,
    });
    expect(created.status).toBe(201);
    await subscribe('/changes-only', key);
    const job = await a.request('POST', `/api/sessions/${key}/exports`, { body: { format: 'json' }, token: owner.token });
    expect(job.status).toBe(202);
    await until(() => receiver.at('/jobs').length === 1, 20_000);
    const [delivery] = receiver.at('/jobs');
    const verified = new Webhook(created.body.secret).verify(delivery.body, delivery.headers as Record<string, string>);
    expect(verified).toEqual({
      type: 'job.completed',
      timestamp: expect.any(String),
      data: expect.objectContaining({ sessionKey: key, jobId: job.body.jobId, queue: 'export', state: 'completed' }),
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.at('/changes-only')).toEqual([]);
    const log = (await a.request('GET', `/api/webhooks/${created.body.id}/deliveries`, { token: owner.token })).body.items;
    expect(log[0]).toMatchObject({ event: 'job.completed', seq: null, status: 'delivered', eventId: delivery.headers['webhook-id'] });
    // Sent again on request, as it was, with its webhook-id: a further attempt in the log.
    const again = await a.request('POST', `/api/webhooks/${created.body.id}/deliveries/${log[0].id}/redeliver`, { token: owner.token });
    expect(again.status).toBe(202);
    await until(() => receiver.at('/jobs').length === 2, 10_000);
    const second = receiver.at('/jobs')[1];
    expect(second.headers['webhook-id']).toBe(delivery.headers['webhook-id']);
    expect(second.body).toBe(delivery.body);
    expect(new Webhook(created.body.secret).verify(second.body, second.headers as Record<string, string>)).toMatchObject({
      type: 'job.completed',
    });
    let attempts: any[] = [];
    for (let tries = 0; attempts.length < 2 && tries < 50; tries++) {
      attempts = (await a.request('GET', `/api/webhooks/${created.body.id}/deliveries`, { token: owner.token })).body.items;
      if (attempts.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(attempts.map((d: any) => [d.event, d.eventId, d.attempt, d.status])).toEqual([
      ['job.completed', log[0].eventId, 2, 'delivered'],
      ['job.completed', log[0].eventId, 1, 'delivered'],
    ]);
  }, 40_000);

  it("stops job.* events and lane sweeps for the former owner's webhooks once ownership passes on", async () => {
    const before = await createUser({ displayName: 'Former owner' });
    const after = await createUser({ displayName: 'New owner' });
    const key = await newSession(before.token);
    const forSession = await subscribe('/passed-one', key, before.token, ['change', 'job.completed', 'job.failed']);
    await subscribe('/passed-all', undefined, before.token, ['job.completed', 'job.failed']);
    await subscribe('/passed-new', undefined, after.token, ['job.completed']);
    await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: before.token });
    await until(() => receiver.at('/passed-one').length === 1, 10_000);
    expect(
      (await a.request('PUT', `/api/sessions/${key}/members/${after.user.id}`, { body: { role: 'editor' }, token: before.token })).status,
    ).toBe(201);
    // Adding the member is a change of its own, still the former owner's to hear of.
    const seqBefore = (await a.request('GET', `/api/sessions/${key}`, { token: before.token })).body.seq as number;
    await until(() => receiver.at('/passed-one').length === seqBefore, 10_000);
    expect((await a.request('POST', `/api/sessions/${key}/owner`, { body: { userId: after.user.id }, token: before.token })).status).toBe(
      200,
    );
    // A change and a job after the transfer: the new owner's webhook for every session hears of the job, the former owner's hear nothing.
    await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: after.token });
    const job = await a.request('POST', `/api/sessions/${key}/exports`, { body: { format: 'json' }, token: after.token });
    expect(job.status).toBe(202);
    await until(() => receiver.at('/passed-new').length === 1, 20_000);
    expect(JSON.parse(receiver.at('/passed-new')[0].body).data).toMatchObject({ sessionKey: key, jobId: job.body.jobId });
    await a.app.get(SweepWebhooksProcessor).handle();
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at('/passed-all')).toEqual([]);
    expect(receiver.at('/passed-one').map((r) => JSON.parse(r.body).data.seq)).toEqual(Array.from({ length: seqBefore }, (_, i) => i + 1));
    expect((await a.request('GET', `/api/sessions/${key}`, { token: after.token })).body.seq).toBeGreaterThan(seqBefore);
    // The lane the trigger opened for the later change is not swept as stranded every minute.
    const stranded = await a.app.get(WebhooksRepository).stranded(10_000);
    expect(stranded.filter((lane) => lane.webhookId === forSession.id)).toEqual([]);
  }, 40_000);

  it("lets an operator follow another user's session and every session, and keeps a user's webhook for all sessions to their own", async () => {
    const me = await createUser({ displayName: 'Followed' });
    const them = await createUser({ displayName: 'Bystander' });
    const key = await newSession(me.token);
    const onOne = await subscribe('/op-one', key, ADMIN_TOKEN);
    const onAll = await subscribe('/op-all', undefined, ADMIN_TOKEN);
    const theirs = await subscribe('/their-all', undefined, them.token);
    try {
      for (let n = 1; n <= 3; n++) {
        await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: me.token });
      }
      const fromKey = (path: string) => receiver.at(path).filter((r) => JSON.parse(r.body).data.sessionKey === key);
      await until(() => receiver.at('/op-one').length === 3 && fromKey('/op-all').length === 3, 15_000);
      expect(seqsAt('/op-one', onOne.secret)).toEqual([1, 2, 3]);
      expect(fromKey('/op-all').map((r) => JSON.parse(r.body).data.seq)).toEqual([1, 2, 3]);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.at('/their-all')).toEqual([]);
      // The log of someone else's webhook is not theirs to read.
      for (const id of [onOne.id, onAll.id]) {
        const answer = await a.request('GET', `/api/webhooks/${id}/deliveries`, { token: them.token });
        expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 404, code: 'WEBHOOK_NOT_FOUND' });
      }
      expect((await a.request('GET', `/api/webhooks/${onOne.id}/deliveries`, { token: me.token })).status).toBe(404);
      expect((await a.request('GET', `/api/webhooks/${theirs.id}/deliveries`, { token: ADMIN_TOKEN })).status).toBe(200);
    } finally {
      await a.request('DELETE', `/api/webhooks/${onAll.id}`, { token: ADMIN_TOKEN });
    }
  }, 30_000);

  it('delivers job.failed when a job of the session fails for good', async () => {
    const provider = await startFakeProvider(() => ({ status: 401, body: { error: 'bad key' } }));
    const failing = await startTestApp({
      ...isolatedRedis('webhooks-job-failed'),
      RUN_WORKERS: 'true',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      AI_PROVIDER_URL: provider.url,
    });
    try {
      const me = await createUser({ displayName: 'Generating', plan: 'ENTERPRISE' });
      const key = (await failing.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: me.token })).body.key as string;
      const created = await failing.request('POST', '/api/webhooks', {
        body: { url: `${receiver.url}/job-failed`, events: ['job.failed', 'job.completed'], sessionKey: key },
        token: me.token,
      });
      expect(created.status).toBe(201);
      const job = await failing.request('POST', `/api/sessions/${key}/generate`, { token: me.token, body: { prompt: 'hello' } });
      expect(job.status).toBe(202);
      await until(() => receiver.at('/job-failed').length === 1, 20_000);
      const [delivery] = receiver.at('/job-failed');
      expect(new Webhook(created.body.secret).verify(delivery.body, delivery.headers as Record<string, string>)).toEqual({
        type: 'job.failed',
        timestamp: expect.any(String),
        data: expect.objectContaining({
          sessionKey: key,
          jobId: job.body.jobId,
          state: 'failed',
          error: expect.objectContaining({ code: 'SERVICE_UNAVAILABLE' }),
        }),
      });
      expect(delivery.body).not.toContain('bad key');
    } finally {
      await failing.close();
      await provider.close();
    }
  }, 40_000);

  it("delivers session.deleted after the session's last change, signed and retried; a webhook for that session then ends", async () => {
    const me = await createUser({ displayName: 'Leaving' });
    const key = await newSession(me.token);
    const hook = await subscribe('/gone', key, me.token, ['change', 'session.deleted']);
    const everyOwned = await subscribe('/gone-all', undefined, me.token, ['session.deleted']);
    const changesOnly = await subscribe('/gone-changes', key, me.token);
    for (let n = 0; n < 3; n++) {
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: me.token });
    }
    await until(() => receiver.at('/gone').length === 3 && receiver.at('/gone-changes').length === 3, 10_000);
    // The receiver refuses session.deleted twice: it is retried, and nothing follows it.
    let refusals = 2;
    receiver.status = (path) => {
      if (path !== '/gone' || refusals === 0) return 204;
      return receiver.at('/gone').length >= 3 ? (refusals--, 503) : 204;
    };
    try {
      expect((await b.request('DELETE', `/api/sessions/${key}`, { token: me.token })).status).toBe(204);
      await until(() => receiver.at('/gone').filter((r) => r.answered === 204).length === 4, 15_000);
      await until(() => receiver.at('/gone-all').some((r) => JSON.parse(r.body).data.sessionKey === key), 15_000);
    } finally {
      receiver.status = () => 204;
    }
    const requests = receiver.at('/gone');
    const bodies = requests.map((r) => new Webhook(hook.secret).verify(r.body, r.headers as Record<string, string>) as any);
    expect(bodies.map((body) => [body.type, body.data.seq])).toEqual([
      ['change', 1],
      ['change', 2],
      ['change', 3],
      ['session.deleted', 3],
      ['session.deleted', 3],
      ['session.deleted', 3],
    ]);
    expect(bodies[3]).toEqual({
      type: 'session.deleted',
      timestamp: expect.any(String),
      data: { sessionKey: key, seq: 3, at: expect.any(String) },
    });
    expect(new Set(requests.slice(3).map((r) => r.headers['webhook-id'])).size).toBe(1);
    const toAll = receiver.at('/gone-all').filter((r) => JSON.parse(r.body).data.sessionKey === key);
    expect(toAll).toHaveLength(1);
    expect(new Webhook(everyOwned.secret).verify(toAll[0].body, toAll[0].headers as Record<string, string>)).toMatchObject({
      type: 'session.deleted',
      data: { sessionKey: key, seq: 3 },
    });
    // The webhook for the deleted session ends once its session.deleted is delivered; one without it at once; one for every session stays.
    let status = 200;
    for (let tries = 0; status !== 404 && tries < 100; tries++) {
      status = (await a.request('GET', `/api/webhooks/${hook.id}`, { token: me.token })).status;
      if (status !== 404) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(404);
    expect((await a.request('GET', `/api/webhooks/${changesOnly.id}`, { token: me.token })).status).toBe(404);
    expect((await a.request('GET', `/api/webhooks/${everyOwned.id}`, { token: me.token })).body).toMatchObject({ enabled: true });
    // Its session.deleted can be sent again on request, as it was.
    let logged: any[] = [];
    for (let tries = 0; logged.length === 0 && tries < 50; tries++) {
      logged = (await a.request('GET', `/api/webhooks/${everyOwned.id}/deliveries`, { token: me.token })).body.items;
      if (logged.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(logged[0]).toMatchObject({ event: 'session.deleted', seq: null, status: 'delivered', eventId: toAll[0].headers['webhook-id'] });
    const again = await a.request('POST', `/api/webhooks/${everyOwned.id}/deliveries/${logged[0].id}/redeliver`, { token: me.token });
    expect(again.status).toBe(202);
    await until(() => receiver.at('/gone-all').filter((r) => JSON.parse(r.body).data.sessionKey === key).length === 2, 10_000);
    const resent = receiver.at('/gone-all').filter((r) => JSON.parse(r.body).data.sessionKey === key)[1];
    expect([resent.headers['webhook-id'], resent.body]).toEqual([toAll[0].headers['webhook-id'], toAll[0].body]);
    await a.request('DELETE', `/api/webhooks/${everyOwned.id}`, { token: me.token });
    expect(receiver.at('/gone-changes')).toHaveLength(3);
  }, 40_000);

  it('sends session.deleted once the lane lets go: changes the deleted log took with it are logged as given up, none follows it', async () => {
    const me = await createUser({ displayName: 'Leaving too' });
    const key = await newSession(me.token);
    const hook = await subscribe('/held', key, me.token, ['change', 'session.deleted']);
    const deletedAnswered = () => receiver.at('/held').some((r) => r.answered === 204 && JSON.parse(r.body).type === 'session.deleted');
    receiver.status = (path) => (path === '/held' ? 503 : 204);
    try {
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: me.token });
      await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: me.token });
      await until(() => receiver.at('/held').length >= 2, 10_000);
      expect((await a.request('DELETE', `/api/sessions/${key}`, { token: me.token })).status).toBe(204);
      await until(() => receiver.at('/held').some((r) => JSON.parse(r.body).type === 'session.deleted'), 10_000);
    } finally {
      receiver.status = () => 204;
    }
    await until(deletedAnswered, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const types = receiver.at('/held').map((r) => JSON.parse(r.body));
    const first = types.findIndex((body) => body.type === 'session.deleted');
    expect(types.slice(first).every((body) => body.type === 'session.deleted')).toBe(true);
    expect(new Set(types.slice(0, first).map((body) => body.data.seq))).toEqual(new Set([1]));
    expect(types.at(-1)).toMatchObject({ type: 'session.deleted', data: { sessionKey: key, seq: 2 } });
    // Its webhook ended with that delivery; while it waited, its log said what was given up.
    let status = 200;
    for (let tries = 0; status !== 404 && tries < 100; tries++) {
      status = (await a.request('GET', `/api/webhooks/${hook.id}`, { token: me.token })).status;
      if (status !== 404) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(404);
  }, 40_000);

  it('delivers every change from the first one that saw a webhook created amid writes on both instances, gap-free and in order', async () => {
    const me = await createUser({ displayName: 'Racing' });
    const key = await newSession(me.token);
    await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: me.token });
    // Both instances have just seen this owner with no webhook (their in-memory answer is "none").
    await b.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: me.token });
    const writes: Array<Promise<unknown>> = [];
    let hook: { id: string; secret: string } | undefined;
    for (let n = 0; n < 60; n++) {
      writes.push(
        (n % 2 ? a : b).request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token: me.token }),
      );
      if (n === 20) writes.push(subscribe('/race', undefined, me.token).then((created) => (hook = created)));
      if (n % 10 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(writes);
    // The last changes may have been committed where the webhook was not known yet: the sweep (every minute) kicks their lane.
    await a.app.get(SweepWebhooksProcessor).handle();
    const seq = (await a.request('GET', `/api/sessions/${key}`, { token: me.token })).body.seq as number;
    expect(seq).toBe(62);
    await until(() => receiver.at('/race').length > 0 && seqsAt('/race', hook!.secret).at(-1) === seq, 45_000);
    await new Promise((r) => setTimeout(r, 300));
    const seqs = seqsAt('/race', hook!.secret);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
    expect(seqs[0]).toBeGreaterThan(2);
  }, 60_000);

  it('delivers a change whose queued job was lost, from the sweep', async () => {
    const env = { ...isolatedRedis('webhooks-lost'), WEBHOOK_ALLOW_PRIVATE: 'true' };
    const apiOnly = await startTestApp(env);
    try {
      const key = (await apiOnly.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key;
      await apiOnly.request('POST', '/api/webhooks', {
        body: { url: `${receiver.url}/lost`, events: ['change'], sessionKey: key },
        token: owner.token,
      });
      await apiOnly.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} }, token: owner.token });
      // The job that would deliver it is gone (Redis lost it, or the process died before queueing it).
      await apiOnly.app.get(QueueRegistry).get('webhooks').obliterate({ force: true });
      const worker = await startTestApp({ ...env, RUN_WORKERS: 'true' });
      try {
        // The minute's sweep, run now rather than waited for (any worker's sweep finds every stranded lane).
        await worker.app.get(SweepWebhooksProcessor).handle();
        await until(() => receiver.at('/lost').length >= 1, 15_000);
        await new Promise((r) => setTimeout(r, 300));
        expect(receiver.at('/lost')).toHaveLength(1);
        expect(JSON.parse(receiver.at('/lost')[0].body).data).toMatchObject({ sessionKey: key, seq: 1 });
      } finally {
        await worker.close();
      }
    } finally {
      await apiOnly.close();
    }
  }, 40_000);

  it("sends a job's events for its own session only: a session re-created under the same key hears nothing of the deleted one's job", async () => {
    const env = { ...isolatedRedis('webhooks-rekey'), WEBHOOK_ALLOW_PRIVATE: 'true' };
    const apiOnly = await startTestApp(env);
    let worker: TestApp | undefined;
    try {
      const first = await createUser({ displayName: 'First holder' });
      const second = await createUser({ displayName: 'Second holder' });
      const key = `W${Date.now().toString(36).toUpperCase()}`.slice(0, 10);
      expect((await apiOnly.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document' }, token: first.token })).status).toBe(
        201,
      );
      await subscribe('/rekey-first', undefined, first.token, ['job.completed', 'job.failed']);
      await subscribe('/rekey-second', undefined, second.token, ['job.completed', 'job.failed']);
      // Queued while no worker runs; the session is deleted and its key taken by someone else before it runs.
      const job = await apiOnly.request('POST', `/api/sessions/${key}/exports`, { body: { format: 'json' }, token: first.token });
      expect(job.status).toBe(202);
      expect((await apiOnly.request('DELETE', `/api/sessions/${key}`, { token: first.token })).status).toBe(204);
      expect((await apiOnly.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document' }, token: second.token })).status).toBe(
        201,
      );
      worker = await startTestApp({ ...env, RUN_WORKERS: 'true' });
      let state = '';
      for (let tries = 0; tries < 100 && state !== 'failed' && state !== 'completed'; tries++) {
        state = (await apiOnly.request('GET', `/api/jobs/${job.body.jobId}`, { token: ADMIN_TOKEN })).body.state;
        if (state !== 'failed' && state !== 'completed') await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toBe('failed');
      await new Promise((r) => setTimeout(r, 1000));
      expect(receiver.at('/rekey-second')).toEqual([]);
    } finally {
      await worker?.close();
      await apiOnly.close();
    }
  }, 40_000);

  it('refuses a URL that resolves to 127.0.0.1 without WEBHOOK_ALLOW_PRIVATE', async () => {
    const strict = await startTestApp({ ...isolatedRedis('webhooks-strict') });
    try {
      for (const url of [
        'http://localhost:9/hook',
        'http://127.0.0.1/hook',
        'http://[::1]/hook',
        'http://169.254.169.254/latest',
        'http://[::127.0.0.1]/hook',
        'http://[2002:7f00:1::1]/hook',
        'ftp://example.com/',
      ]) {
        const refused = await strict.request('POST', '/api/webhooks', { body: { url, events: ['change'] }, token: owner.token });
        expect({ url, status: refused.status, code: refused.body.code }).toEqual({ url, status: 400, code: 'WEBHOOK_URL_FORBIDDEN' });
      }
      // A public address is taken; changing it to a loopback one is refused the same way, and changes nothing.
      const nobody = await createUser({ displayName: 'No sessions' });
      const created = await strict.request('POST', '/api/webhooks', {
        body: { url: 'http://93.184.215.14/hook', events: ['job.completed'] },
        token: nobody.token,
      });
      expect(created.status).toBe(201);
      const patched = await strict.request('PATCH', `/api/webhooks/${created.body.id}`, {
        body: { url: 'http://127.0.0.1/' },
        token: nobody.token,
      });
      expect({ status: patched.status, code: patched.body.code }).toEqual({ status: 400, code: 'WEBHOOK_URL_FORBIDDEN' });
      expect((await strict.request('GET', `/api/webhooks/${created.body.id}`, { token: nobody.token })).body.url).toBe(
        'http://93.184.215.14/hook',
      );
      await strict.request('DELETE', `/api/webhooks/${created.body.id}`, { token: nobody.token });
    } finally {
      await strict.close();
    }
  });

  it('counts a sessionKey named in POST /api/webhooks toward the key-probe guard: misses block the IP', async () => {
    const guarded = await startTestApp({ ...isolatedRedis('webhooks-probe'), WEBHOOK_ALLOW_PRIVATE: 'true', KEY_PROBE_LIMIT: '3' });
    try {
      const me = await createUser({ displayName: 'Prober' });
      const mine = (await guarded.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: me.token })).body.key as string;
      const create = (sessionKey: string) =>
        guarded.request('POST', '/api/webhooks', {
          body: { url: `${receiver.url}/probe`, events: ['change'], sessionKey },
          token: me.token,
        });
      expect((await create(mine)).status).toBe(201);
      for (const key of ['ZZZZZZ1', 'ZZZZZZ2', 'ZZZZZZ3']) expect((await create(key)).body.code).toBe('SESSION_NOT_FOUND');
      const blocked = await create(mine);
      expect({ status: blocked.status, code: blocked.body.code }).toEqual({ status: 429, code: 'BLOCKED' });
      expect((await guarded.request('GET', `/api/sessions/${mine}`, { token: me.token })).body.code).toBe('BLOCKED');
    } finally {
      await guarded.close();
    }
  });

  it('bounds a flood of webhook writes by one user with the webhook-changes limit, and the refused ones create nothing', async () => {
    const limited = await startTestApp({
      ...isolatedRedis('webhooks-limited'),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      RATE_LIMIT_POLICIES: JSON.stringify({ 'webhook-changes': { FREE: { limit: 3, windowSeconds: 3600 } } }),
    });
    try {
      const flooder = await createUser();
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          limited.request('POST', '/api/webhooks', {
            body: { url: `http://127.0.0.1:9/hook-${i}`, events: ['change'] },
            token: flooder.token,
          }),
        ),
      );
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 201, 201, 429, 429, 429, 429, 429]);
      expect(answers.find((r) => r.status === 429)?.body.code).toBe('RATE_LIMITED');
      expect(Number(answers.find((r) => r.status === 429)?.headers.get('retry-after'))).toBeGreaterThan(0);
      const listed = await limited.request('GET', '/api/webhooks', { token: flooder.token });
      expect(listed.body.items).toHaveLength(3);
    } finally {
      await limited.close();
    }
  });

  it('keeps webhooks to their owner, sessions to theirs, and refuses bad input', async () => {
    const mine = await newSession();
    const theirs = await newSession(other.token);
    const hook = await subscribe('/private', mine);
    expect((await a.request('GET', `/api/webhooks/${hook.id}`, { token: other.token })).status).toBe(404);
    expect((await a.request('DELETE', `/api/webhooks/${hook.id}`, { token: other.token })).body.code).toBe('WEBHOOK_NOT_FOUND');
    expect((await a.request('GET', `/api/webhooks/${hook.id}`, { token: owner.token })).body).toEqual({
      id: hook.id,
      url: `${receiver.url}/private`,
      events: ['change'],
      sessionKey: mine,
      enabled: true,
      disabledReason: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect((await a.request('GET', `/api/webhooks/${hook.id}`, { token: ADMIN_TOKEN })).status).toBe(200);
    const cases: Array<[unknown, number, string]> = [
      [{ url: `${receiver.url}/x`, events: ['change'], sessionKey: theirs }, 404, 'SESSION_NOT_FOUND'],
      [{ url: `${receiver.url}/x`, events: ['change'], sessionKey: 'ZZZZZZZZ' }, 404, 'SESSION_NOT_FOUND'],
      [{ url: `${receiver.url}/x`, events: [] }, 400, 'VALIDATION_FAILED'],
      [{ url: `${receiver.url}/x`, events: ['change', 'change'] }, 400, 'VALIDATION_FAILED'],
      [{ url: `${receiver.url}/x`, events: ['nope'] }, 400, 'VALIDATION_FAILED'],
      [{ url: `${receiver.url}/x`, events: ['change'], extra: 1 }, 400, 'VALIDATION_FAILED'],
      [{ url: `${receiver.url}/x`, events: ['change'], sessionKey: 123 }, 400, 'VALIDATION_FAILED'],
      [{ url: `${receiver.url}/${'x'.repeat(3000)}`, events: ['change'] }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const answer = await a.request('POST', '/api/webhooks', { body, token: owner.token });
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({ body, status, code });
    }
    expect((await a.request('POST', '/api/webhooks', { body: { url: `${receiver.url}/x`, events: ['change'] } })).status).toBe(401);
    expect((await a.request('GET', '/api/webhooks/not-a-uuid', { token: owner.token })).status).toBe(400);
    // A user holds at most WEBHOOK_MAX_PER_USER (8 here).
    const statuses: number[] = [];
    let refusal: unknown;
    for (let i = 0; i < 10; i++) {
      // The first names every session with null, as a webhook reads back.
      const answer = await a.request('POST', '/api/webhooks', {
        body: { url: `${receiver.url}/cap`, events: ['change'], ...(i === 0 ? { sessionKey: null } : {}) },
        token: other.token,
      });
      if (i === 0) expect(answer.body).toMatchObject({ sessionKey: null });
      statuses.push(answer.status);
      if (answer.status !== 201) refusal ??= answer.body.code;
    }
    expect(statuses).toEqual([...Array<number>(8).fill(201), 409, 409]);
    expect(refusal).toBe('WEBHOOK_LIMIT_REACHED');
    const listed = await a.request('GET', '/api/webhooks?limit=5', { token: other.token });
    expect(listed.body.items).toHaveLength(5);
    expect(listed.body.items.every((w: any) => !('secret' in w))).toBe(true);
    const rest = await a.request('GET', `/api/webhooks?limit=5&cursor=${listed.body.nextCursor}`, { token: other.token });
    expect(rest.body).toMatchObject({ nextCursor: null });
    expect(rest.body.items).toHaveLength(3);
    expect((await a.request('DELETE', `/api/webhooks/${hook.id}`, { token: owner.token })).status).toBe(204);
    expect((await a.request('GET', `/api/webhooks/${hook.id}`, { token: owner.token })).status).toBe(404);
  });
});
