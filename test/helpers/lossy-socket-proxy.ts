import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

/** A client's event with an ack id: `42/collab,17["block.update",...]`. */
const EVENT = /^42(?:\/[^,]*,)?(\d+)\["([^"]+)"/;
/** Events whose acks may be lost: the block writes, undo and redo. */
const WRITE_EVENTS = /^(block\.|session\.(undo|redo)$)/;
/** The server's ack: `43/collab,17[...]`. */
const ACK = /^43(?:\/[^,]*,)?(\d+)\[/;

const text = (data: RawData) =>
  (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');

/**
 * A load balancer that loses answers: WebSocket connections go round robin to the instances
 * and frames pass through whole, except that for a share of the acks to write events
 * (`block.*`, `session.undo`, `session.redo`) it lets the instance answer, then cuts the client's connection instead of
 * passing the ack on. HTTP requests are forwarded as they are.
 */
export async function lossySocketProxy(
  targets: string[],
  drop: () => boolean,
): Promise<{ url: string; dropped: () => number; connections: () => number; close(): Promise<void> }> {
  let turn = 0;
  let dropped = 0;
  let connections = 0;
  const open = new Set<WebSocket>();
  const server = http.createServer((req, res) => {
    const target = new URL(targets[turn++ % targets.length]);
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const target = new URL(targets[turn++ % targets.length]);
    // The instance first, as a load balancer does: one that does not answer (killed) is a 502 to
    // the upgrade, which the client sees at once. (An upgrade accepted and then closed before
    // Engine.IO's open packet leaves socket.io-client waiting for its 20 s connect timeout.)
    const upstream = new WebSocket(`ws://${target.host}${req.url}`);
    const refuse = () => {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
    };
    const gone = () => upstream.terminate();
    upstream.once('error', refuse);
    socket.once('close', gone);
    upstream.once('open', () => {
      upstream.off('error', refuse);
      socket.off('close', gone);
      sockets.handleUpgrade(req, socket, head, (client) => {
        connections++;
        open.add(client).add(upstream);
        const writes = new Set<string>();
        const cut = () => {
          client.terminate();
          upstream.terminate();
          open.delete(client);
          open.delete(upstream);
        };
        client.on('message', (data: RawData, binary: boolean) => {
          const event = binary ? null : EVENT.exec(text(data));
          if (event && WRITE_EVENTS.test(event[2])) writes.add(event[1]);
          if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary });
        });
        upstream.on('message', (data: RawData, binary: boolean) => {
          const ack = binary ? null : ACK.exec(text(data));
          if (ack && writes.delete(ack[1]) && drop()) {
            dropped++;
            cut();
            return;
          }
          if (client.readyState === WebSocket.OPEN) client.send(data, { binary });
        });
        client.on('close', cut);
        upstream.on('close', cut);
        client.on('error', cut);
        upstream.on('error', cut);
        if (upstream.readyState !== WebSocket.OPEN) cut();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropped: () => dropped,
    connections: () => connections,
    close: async () => {
      for (const socket of open) socket.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
