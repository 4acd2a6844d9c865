import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.service.js';

/**
 * `http_request_duration_seconds` by method, route pattern (never the raw URL: one series
 * per route, not per session key) and status.
 */
export function instrumentHttp(fastify: FastifyInstance, metrics: Metrics): void {
  const duration = metrics.histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'],
  });
  fastify.addHook('onResponse', async (request, reply) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
}
