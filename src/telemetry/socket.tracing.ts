import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Observable } from 'rxjs';
import { SESSION_KEY_PATTERN } from '../common/session-key-format.js';
import { tracing } from './tracing.state.js';

export const SESSION_KEY_ATTRIBUTE = 'tessera.session_key';

/**
 * One span per client socket event, named after the event, with the session key it is
 * about (when it is one) and never the payload. Each event is a trace of its own: a
 * socket lives for hours, and its events are not parts of the request that opened it.
 * The handler runs inside the span, so its statements and Redis commands are children.
 */
export function traceSocketEvent<T>(event: string, payload: unknown, handle: () => Observable<T>): Observable<T> {
  if (!tracing.enabled) return handle();
  return new Observable<T>((subscriber) => {
    const key = (payload as { key?: unknown } | undefined)?.key;
    const span = trace.getTracer('tessera').startSpan(event, {
      kind: SpanKind.SERVER,
      root: true,
      attributes: {
        'messaging.system': 'socket.io',
        'messaging.operation.name': event,
        ...(typeof key === 'string' && SESSION_KEY_PATTERN.test(key) && { [SESSION_KEY_ATTRIBUTE]: key }),
      },
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.end();
    };
    const subscription = context.with(trace.setSpan(context.active(), span), () =>
      handle().subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => {
          // A refusal the client caused (4xx) is the event's answer, not a fault of the server.
          const { code, status } = (error ?? {}) as { code?: unknown; status?: unknown };
          if (typeof code === 'string') span.setAttribute('error.type', code);
          if (typeof status !== 'number' || status >= 500)
            span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : undefined });
          end();
          subscriber.error(error);
        },
        complete: () => {
          end();
          subscriber.complete();
        },
      }),
    );
    return () => {
      end();
      subscription.unsubscribe();
    };
  });
}
