import type { INestApplication } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { APP_CLOSING, LifecycleState } from '../health/lifecycle.state.js';

/**
 * The SIGTERM sequence: readiness fails at once; the instance keeps serving for `delayMs`
 * while load balancers notice; sockets are told to reconnect elsewhere and closed after
 * their in-flight events; then the application closes (in-flight HTTP requests finish).
 */
export async function drainAndClose(app: INestApplication, delayMs: number): Promise<void> {
  app.get(LifecycleState).startDraining();
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  await app.get(EventEmitter2).emitAsync(APP_CLOSING);
  await app.close();
}
