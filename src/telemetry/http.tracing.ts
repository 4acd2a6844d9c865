import { trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';

/** The request id Tessera answers in X-Request-Id and logs, on the request's server span. */
export const REQUEST_ID_ATTRIBUTE = 'tessera.request_id';

/**
 * Names each HTTP server span after its route pattern (never the raw URL, which carries
 * session keys) and tags it with the request id. Fastify routes before `onRequest`, inside
 * the server span's context.
 */
export function annotateHttpSpans(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    const span = trace.getActiveSpan();
    if (!span) return done();
    span.setAttribute(REQUEST_ID_ATTRIBUTE, request.id);
    const route = request.routeOptions.url;
    if (route) {
      span.setAttribute('http.route', route);
      span.updateName(`${request.method} ${route}`);
    }
    done();
  });
}
