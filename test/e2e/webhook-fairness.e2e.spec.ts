import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisService } from '../../src/redis/redis.service.js';
import { SweepWebhooksProcessor } from '../../src/webhooks/webhook-sweep.processor.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { scrape } from '../helpers/prometheus.js';
import { until } from '../helpers/sockets.js';

interface Arrival {
  path: string;
  seq: number;
  at: number;
  answered: boolean;
}

/** A receiver on 127.0.0.1 that, while `hanging`, never answers (the sender gives up at its timeout). */
class StallingReceiver {
  readonly arrivals: Arrival[] = [];
  hanging = false;
  inFlight = 0;
  maxInFlight = 0;
  url = '';
  private server!: Server;
  private readonly held: ServerResponse[] = [];

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const arrival = {
          path: req.url ?? '',
          seq: (JSON.parse(body) as { data: { seq: number } }).data.seq,
          at: Date.now(),
          answered: !this.hanging,
        };
        this.arrivals.push(arrival);
        if (arrival.answered) {
          res.writeHead(204).end();
          return;
        }
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        this.held.push(res);
        res.on('close', () => this.inFlight--);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  delivered(path: string): number[] {
    return this.arrivals.filter((a) => a.path === path && a.answered).map((a) => a.seq);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const TIMEOUT_MS = 2500;
const SESSIONS = 8;

describe("webhooks: one owner's slow receiver does not starve other owners' deliveries", () => {
  let app: TestApp;
  let stalling: StallingReceiver;
  let healthy: StallingReceiver;

  beforeAll(async () => {
    app = await startTestApp({
      ...isolatedRedis('webhook-fairness-spec'),
      RUN_WORKERS: 'true',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_CONCURRENCY: '4',
      WEBHOOK_OWNER_CONCURRENCY: '2',
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOK_RETRY_BASE_MS: '200',
      WEBHOOK_RETRY_MAX_MS: '800',
      WEBHOOK_MAX_PER_USER: String(SESSIONS),
    });
    [stalling, healthy] = await Promise.all([new StallingReceiver().start(), new StallingReceiver().start()]);
  });
  afterAll(async () => {
    await app.close();
    await Promise.all([stalling.close(), healthy.close()]);
    await closeTestDb();
  });

  const newSession = async (token: string) =>
    (await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token })).body.key as string;
  const subscribe = async (token: string, url: string, sessionKey: string) => {
    const created = await app.request('POST', '/api/webhooks', { body: { url, events: ['change'], sessionKey }, token });
    expect(created.status).toBe(201);
  };
  const write = async (token: string, key: string, n: number) => {
    const res = await app.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { n } }, token });
    expect(res.status).toBeLessThan(300);
  };

  it("delivers another owner's change at once while one owner's receiver hangs, and the hanging owner's changes later, in order", async () => {
    const [x, y] = await Promise.all([createUser({ displayName: 'X' }), createUser({ displayName: 'Y' })]);
    const xKeys = await Promise.all(Array.from({ length: SESSIONS }, () => newSession(x.token)));
    await Promise.all(xKeys.map((key, i) => subscribe(x.token, `${stalling.url}/x/${i}`, key)));
    const yKey = await newSession(y.token);
    await subscribe(y.token, `${healthy.url}/y`, yKey);

    stalling.hanging = true;
    // X's changes first: every lane of X wants a worker before Y's change is made.
    await Promise.all(
      xKeys.map(async (key) => {
        await write(x.token, key, 1);
        await write(x.token, key, 2);
      }),
    );
    await until(() => stalling.inFlight >= 2, 3000);
    await new Promise((r) => setTimeout(r, 200));

    const madeAt = Date.now();
    await write(y.token, yKey, 1);
    await until(() => healthy.delivered('/y').length === 1, TIMEOUT_MS * 4);
    // Four workers, two of them X's at most: Y's change does not wait for X's attempts to time out.
    expect(healthy.arrivals[0].at - madeAt).toBeLessThan(TIMEOUT_MS / 2);
    expect(stalling.maxInFlight).toBeLessThanOrEqual(2);

    // X's lanes still get their attempts while the receiver hangs (parked runs are woken), then all arrive once it recovers.
    await until(() => new Set(stalling.arrivals.map((a) => a.path)).size >= 3, TIMEOUT_MS * 3);
    stalling.hanging = false;
    await until(() => xKeys.every((_, i) => stalling.delivered(`/x/${i}`).length >= 2), 15_000);
    expect(stalling.maxInFlight).toBeLessThanOrEqual(2);
    for (let i = 0; i < SESSIONS; i++) {
      expect(stalling.delivered(`/x/${i}`)).toEqual([1, 2]);
      // Nothing overtook a change still being tried: every attempt at a lane came in seq order.
      const tried = stalling.arrivals.filter((a) => a.path === `/x/${i}`).map((a) => a.seq);
      expect(tried).toEqual([...tried].sort((p, q) => p - q));
    }
    const metrics = await scrape(app);
    expect(metrics.value('webhook_parked_total')).toBeGreaterThan(0);
  }, 30_000);

  it("wakes a run parked behind a killed worker's slots with the sweep, once those slots lapse", async () => {
    const z = await createUser({ displayName: 'Z' });
    const key = await newSession(z.token);
    await subscribe(z.token, `${healthy.url}/z`, key);
    // Two workers died holding Z's slots: nobody will give them back, they lapse in 500 ms.
    const lapse = Date.now() + 500;
    await app.app.get(RedisService).client.zadd(`webhook-owner:${z.user.id}:slots`, lapse, 'killed-1', lapse, 'killed-2');
    await write(z.token, key, 1);
    // Parked, not retried on a timer: nothing arrives even after the slots have lapsed.
    await new Promise((r) => setTimeout(r, 1500));
    expect(healthy.delivered('/z')).toEqual([]);
    await app.app.get(SweepWebhooksProcessor).handle();
    await until(() => healthy.delivered('/z').length === 1, 5000);
    expect(healthy.delivered('/z')).toEqual([1]);
  }, 15_000);
});
