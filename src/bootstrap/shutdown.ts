import type { INestApplication } from '@nestjs/common';
import { EventBus } from '../events/event-bus.js';
import { LifecycleState } from '../health/lifecycle.state.js';

/**
 * The SIGTERM sequence: readiness fails at once; the instance keeps serving for `delayMs`
 * while load balancers notice; sockets are told to reconnect elsewhere and closed after
 * their in-flight events, and workers finish (or hand back) their jobs; the HTTP requests
 * in flight are answered; then the application closes. Resolves `false` when closing
 * outlasted `timeoutMs`, and the caller exits anyway.
 */
export async function drainAndClose(app: INestApplication, delayMs: number, timeoutMs = Infinity): Promise<boolean> {
  const lifecycle = app.get(LifecycleState);
  lifecycle.startDraining();
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  let timer: NodeJS.Timeout | undefined;
  const closing = (async () => {
    await app.get(EventBus).emit('app.closing', undefined);
    await lifecycle.requestsAnswered();
    await app.close();
    return true;
  })();
  const timedOut = new Promise<boolean>((resolve) => {
    if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve(false), timeoutMs).unref();
  });
  try {
    return await Promise.race([closing, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
