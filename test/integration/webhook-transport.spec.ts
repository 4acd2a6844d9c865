import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signWebhook } from '../../src/webhooks/webhook-signature.js';
import { RESPONSE_EXCERPT_BYTES, WebhookTransport } from '../../src/webhooks/webhook-transport.js';

/** A receiver on 127.0.0.1 that answers by path, and records what it was sent. */
describe('webhook transport, against a real receiver', () => {
  let receiver: Server;
  let port: number;
  const received: Array<{ path: string; headers: IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        received.push({ path: req.url ?? '', headers: req.headers, body });
        if (req.url === '/ok') return res.writeHead(204).end();
        if (req.url === '/redirect') return res.writeHead(302, { location: '/ok' }).end();
        if (req.url === '/big') return res.writeHead(500).end('x'.repeat(1024 * 1024));
        // A cut three-byte character lands at the excerpt's edge: its first byte is the last one kept.
        if (req.url === '/binary')
          return res.writeHead(200).end(Buffer.concat([Buffer.from([0, 0xff, 0x41]), Buffer.alloc(1020, 0x62), Buffer.from('€€')]));
        if (req.url === '/slow') return setTimeout(() => res.writeHead(200).end(), 2000);
        res.writeHead(404).end('no');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as AddressInfo).port;
  });
  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  const signed = (path: string, host = 'localhost') => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: 'change', timestamp: new Date().toISOString(), data: { seq: 7 } });
    return {
      secret,
      post: { url: `http://${host}:${port}${path}`, body, headers: signWebhook(secret, 'msg_1', Math.floor(Date.now() / 1000), body) },
    };
  };

  it('delivers a signed body that the reference implementation verifies', async () => {
    const transport = new WebhookTransport({ allowPrivate: true, timeoutMs: 10_000, userAgent: 'Tessera-Webhooks/1' });
    try {
      const { secret, post } = signed('/ok');
      expect(await transport.post(post)).toMatchObject({ delivered: true, status: 204 });
      const last = received.at(-1)!;
      expect(last.headers['content-type']).toBe('application/json');
      expect(new Webhook(secret).verify(last.body, last.headers as Record<string, string>)).toEqual(JSON.parse(post.body));
    } finally {
      transport.close();
    }
  });

  it('refuses a name that resolves to 127.0.0.1, and a loopback IP, without WEBHOOK_ALLOW_PRIVATE; nothing reaches the receiver', async () => {
    const transport = new WebhookTransport({ allowPrivate: false, timeoutMs: 10_000, userAgent: 'Tessera-Webhooks/1' });
    try {
      const before = received.length;
      for (const host of ['localhost', '127.0.0.1', '[::1]', '2130706433']) {
        const attempt = await transport.post(signed('/ok', host).post);
        expect({ host, delivered: attempt.delivered, status: attempt.status, error: attempt.error }).toEqual({
          host,
          delivered: false,
          status: null,
          error: expect.stringMatching(/loopback/),
        });
      }
      expect(received.length).toBe(before);
    } finally {
      transport.close();
    }
  });

  it('does not follow redirects, keeps only an excerpt of the answer, and gives up after the timeout', async () => {
    const transport = new WebhookTransport({ allowPrivate: true, timeoutMs: 500, userAgent: 'Tessera-Webhooks/1' });
    try {
      const before = received.length;
      expect(await transport.post(signed('/redirect').post)).toMatchObject({ delivered: false, status: 302 });
      expect(received.slice(before).map((r) => r.path)).toEqual(['/redirect']);
      const big = await transport.post(signed('/big').post);
      expect(big).toMatchObject({ delivered: false, status: 500 });
      expect(big.excerpt).toHaveLength(RESPONSE_EXCERPT_BYTES);
      // Bytes PostgreSQL would refuse in a TEXT column never reach the log: NUL dropped, invalid and cut UTF-8 made valid.
      const binary = await transport.post(signed('/binary').post);
      expect(binary).toMatchObject({ delivered: true, status: 200 });
      expect(binary.excerpt).toBe(`\uFFFDA${'b'.repeat(1020)}`);
      const slow = await transport.post(signed('/slow').post);
      expect(slow).toMatchObject({ delivered: false, status: null, error: expect.stringContaining('no answer within 500 ms') });
      expect(slow.durationMs).toBeLessThan(1500);
    } finally {
      transport.close();
    }
  });
});
