import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A small seeded PRNG, so a failing run can be replayed with the same drops. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Round-robin over the instances, forwarding every request whole; for a share of the writes it
 * lets the instance answer, then destroys the client's connection instead of passing the answer on.
 */
export async function lossyProxy(
  targets: string[],
  drop: () => boolean,
): Promise<{ url: string; dropped: () => number; close(): Promise<void> }> {
  let turn = 0;
  let dropped = 0;
  const server = http.createServer((req, res) => {
    const target = new URL(targets[turn++ % targets.length]);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => body.push(chunk));
          answer.on('end', () => {
            if (req.method !== 'GET' && drop()) {
              dropped++;
              req.socket.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      upstream.on('error', () => req.socket.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropped: () => dropped,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Answer {
  status: number;
  body: any;
}

/** One request on a connection of its own: a dropped answer is an error, as a client sees a lost response. */
export function call(base: string, method: string, path: string, token: string, body?: unknown, key?: string): Promise<Answer> {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: url.pathname + url.search,
        agent: false,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload && { 'content-type': 'application/json' }),
          ...(key && { 'idempotency-key': key }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let body: unknown = text || undefined;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON (a balancer's own 502): kept as text
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
