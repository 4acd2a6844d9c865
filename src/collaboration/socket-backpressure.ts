import { Injectable, Logger } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { Metrics } from '../metrics/metrics.service.js';

/** The WebSocket close code and reason a slow consumer is cut with. */
export const SLOW_CONSUMER = { code: 4008, reason: 'SLOW_CONSUMER' } as const;
/** How long a cut socket may take to flush its close frame before its connection is destroyed. */
const CLOSE_GRACE_MS = 1000;

interface EngineTransport {
  name: string;
  socket?: { bufferedAmount: number; close(code: number, reason: string): void; terminate(): void };
}

const sizeOf = (data: unknown) => (typeof data === 'string' ? data.length : Buffer.isBuffer(data) ? data.length : 0);

/**
 * Bounds what one socket can make this instance hold: the packets queued for it and the
 * bytes its WebSocket has not yet handed to the network. Past WS_MAX_BUFFERED_BYTES the
 * socket is closed with 4008 SLOW_CONSUMER and its connection destroyed shortly after, so a
 * client that stops reading costs at most that much; it resumes from its seq on reconnect.
 */
@Injectable()
export class SocketBackpressure {
  private readonly logger = new Logger(SocketBackpressure.name);
  private readonly cuts;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    this.cuts = metrics.counter({ name: 'socket_slow_consumers_total', help: 'Sockets disconnected for not reading what they were sent' });
  }

  watch(socket: Socket): void {
    const conn = socket.conn as unknown as {
      transport: EngineTransport;
      on(event: 'packetCreate', listener: (packet: { data?: unknown }) => void): void;
      on(event: 'flush', listener: () => void): void;
      close(discard: boolean): void;
    };
    // Packets queued in the engine while its transport is busy; a flush hands them all to the transport.
    let queued = 0;
    let cut = false;
    conn.on('flush', () => (queued = 0));
    conn.on('packetCreate', (packet) => {
      queued += sizeOf(packet.data);
      if (cut || queued + (conn.transport.socket?.bufferedAmount ?? 0) <= this.config.WS_MAX_BUFFERED_BYTES) return;
      cut = true;
      this.cuts.inc();
      this.logger.warn(
        `socket ${socket.id} disconnected: ${SLOW_CONSUMER.reason} (over ${this.config.WS_MAX_BUFFERED_BYTES} bytes unsent)`,
      );
      const ws = conn.transport.socket;
      if (!ws) return conn.close(true);
      ws.close(SLOW_CONSUMER.code, SLOW_CONSUMER.reason);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    });
  }
}
