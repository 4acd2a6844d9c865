import { Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { knownLabel, Metrics } from '../metrics/metrics.service.js';
import { CLIENT_EVENTS } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';

const RECEIVED = new Set<string>(Object.values(CLIENT_EVENTS));
const SENT = new Set(['change', 'changes', 'session.role', 'block.conflict', 'session.revoked', 'presence', 'job', 'server.draining']);
/**
 * The event name of an encoded Socket.IO packet: `2` (event) or `5` (binary event), then
 * optional attachments, namespace and ack id, then `["name",`. A `3` is an ack.
 */
const ENCODED_EVENT = /^[25](?:\d+-)?(?:\/[^,]*,)?\d*\["([^"\\]{1,64})"/;

/**
 * `active_connections` (the HPA's custom metric: sockets connected to this instance) and
 * the events each socket receives and is sent. Room broadcasts are encoded once and
 * written to each member, so sent events are counted from the engine's outgoing packets.
 */
@Injectable()
export class SocketMetrics {
  private readonly received;
  private readonly sent;

  constructor(metrics: Metrics, server: CollabServer) {
    metrics.gauge({
      name: 'active_connections',
      help: 'Socket.IO connections to this instance',
      collect() {
        this.set(server.started ? server.namespace.sockets.size : 0);
      },
    });
    this.received = metrics.counter({
      name: 'socket_events_received_total',
      help: 'Socket events received, by event',
      labelNames: ['event'],
    });
    this.sent = metrics.counter({ name: 'socket_events_sent_total', help: 'Socket events and acks sent, by event', labelNames: ['event'] });
  }

  watch(socket: Socket): void {
    socket.onAny((event: unknown) => this.received.inc({ event: knownLabel(event, RECEIVED) }));
    socket.conn.on('packetCreate', (packet: { type: string; data?: unknown }) => {
      if (packet.type !== 'message' || typeof packet.data !== 'string') return;
      if (packet.data.startsWith('3')) return this.sent.inc({ event: 'ack' });
      const name = ENCODED_EVENT.exec(packet.data.slice(0, 96))?.[1];
      if (name !== undefined) this.sent.inc({ event: knownLabel(name, SENT) });
    });
  }
}
