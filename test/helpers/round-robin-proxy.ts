import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';

interface Backend {
  url: URL;
  ready: boolean;
}

/**
 * A load balancer in miniature, as a Kubernetes Service with readiness gates behaves:
 * HTTP requests and WebSocket upgrades go round robin to the backends whose
 * `/api/health/ready` answered 200 at the last check (every `checkEveryMs`).
 */
export class RoundRobinProxy {
  private readonly backends: Backend[] = [];
  private readonly agent = new Agent({ keepAlive: true });
  private readonly tunnels = new Set<Socket>();
  private server?: Server;
  private checker?: NodeJS.Timeout;
  private next = 0;
  url = '';

  constructor(private readonly checkEveryMs = 100) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const backend = this.pick();
      if (!backend) {
        res.writeHead(503).end('no ready backend');
        return;
      }
      const upstream = httpRequest(
        { host: backend.url.hostname, port: backend.url.port, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end('backend failed')));
      req.pipe(upstream);
    });
    this.server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => this.tunnel(req, client, head));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    this.checker = setInterval(() => void this.check(), this.checkEveryMs);
    return this;
  }

  /** Adds a backend; it takes traffic once its readiness answers 200. */
  async add(url: string): Promise<void> {
    const backend = { url: new URL(url), ready: false };
    this.backends.push(backend);
    await this.checkOne(backend);
  }

  remove(url: string): void {
    const index = this.backends.findIndex((b) => b.url.origin === new URL(url).origin);
    if (index >= 0) this.backends.splice(index, 1);
  }

  get ready(): string[] {
    return this.backends.filter((b) => b.ready).map((b) => b.url.origin);
  }

  async close(): Promise<void> {
    clearInterval(this.checker);
    for (const socket of this.tunnels) socket.destroy();
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private pick(): Backend | undefined {
    const ready = this.backends.filter((b) => b.ready);
    if (ready.length === 0) return undefined;
    return ready[this.next++ % ready.length];
  }

  /** A WebSocket upgrade: the request head is replayed to a backend, then bytes flow both ways. */
  private tunnel(req: IncomingMessage, client: Socket, head: Buffer): void {
    const backend = this.pick();
    if (!backend) {
      client.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\n\r\n');
      return;
    }
    const upstream = tcpConnect(Number(backend.url.port), backend.url.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.tunnels.add(upstream).add(client);
    const end = () => {
      this.tunnels.delete(upstream);
      this.tunnels.delete(client);
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', end).on('close', end);
    client.on('error', end).on('close', end);
  }

  private async check(): Promise<void> {
    await Promise.all(this.backends.map((b) => this.checkOne(b)));
  }

  private async checkOne(backend: Backend): Promise<void> {
    try {
      const res = await fetch(new URL('/api/health/ready', backend.url), { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      backend.ready = res.status === 200;
    } catch {
      backend.ready = false;
    }
  }
}
