import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import helmet from '@fastify/helmet';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppModule, type ProcessRole } from './app.module.js';
import { AppLogger, createRootLogger, logAnswers } from './common/app-logger.js';
import { buildOpenApiDocument } from './common/openapi/openapi-document.js';
import { RouteMethods } from './common/route-methods.js';
import { RedisIoAdapter } from './collaboration/redis-io.adapter.js';
import type { AppConfig } from './config/app-config.js';
import { isOperationalRoute } from './common/operational-routes.js';
import { AppError } from './errors/app-error.js';
import { HttpExceptionFilter, sendProblem } from './errors/http-exception.filter.js';
import { createValidationPipe } from './errors/validation.js';
import { checkJsonShape } from './errors/json-shape.js';
import { LifecycleState } from './health/lifecycle.state.js';
import { instrumentHttp } from './metrics/http.metrics.js';
import { Metrics } from './metrics/metrics.service.js';
import { annotateHttpSpans } from './telemetry/http.tracing.js';
import { tracing } from './telemetry/tracing.state.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const frameworkLogger = new Logger('HttpError');

/** Echoes a sane incoming X-Request-Id, else makes one; the raw request carries it for the logger. */
function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  (req as IncomingMessage & { id?: string }).id = id;
  return id;
}

/**
 * The editor page and its assets (`npm run build` puts them in dist/public), one route per
 * file and no wildcard, so unknown paths stay the API's 404. Absent when not built.
 */
async function serveEditor(app: NestFastifyApplication): Promise<void> {
  const root = join(dirname(fileURLToPath(import.meta.url)), 'public');
  if (!existsSync(join(root, 'index.html'))) return;
  await app.register(fastifyStatic, { root, wildcard: false, index: 'index.html', cacheControl: true, maxAge: '5m' });
}

/** Builds the HTTP application (Fastify) with Tessera's parsing, errors, security headers and docs. */
export async function createApp(
  config: AppConfig,
  options: { logger?: boolean; role?: ProcessRole } = {},
): Promise<NestFastifyApplication> {
  const role = options.role ?? 'api';
  const adapter = new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT,
    // One trusted hop: the address the proxy in front of us saw, never a client-written X-Forwarded-For entry.
    trustProxy: config.TRUST_PROXY ? (_address: string, hop: number) => hop === 0 : false,
    // Long enough that an over-long session key reaches its own validation (400 INVALID_SESSION_KEY).
    routerOptions: { maxParamLength: 1000 },
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply.header('x-request-id', request.id);
      sendProblem(request, reply, error, frameworkLogger);
    },
    genReqId: requestIdOf,
    requestIdHeader: false,
    return503OnClosing: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, role), adapter, {
    bodyParser: false,
    bufferLogs: options.logger !== false,
    logger: options.logger === false ? false : undefined,
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  if (options.logger !== false) {
    const logger = createRootLogger(config.LOG_LEVEL);
    app.useLogger(new AppLogger(logger));
    logAnswers(fastify, logger);
  }
  instrumentHttp(fastify, app.get(Metrics));
  if (tracing.enabled) annotateHttpSpans(fastify);

  const lifecycle = app.get(LifecycleState);
  const routeMethods = new RouteMethods();
  fastify.addHook('onRoute', (route) => routeMethods.add(route.method, route.url));
  fastify.addHook('onRequest', async (request, reply) => {
    lifecycle.requestReceived(reply.raw);
    void reply.header('x-request-id', request.id);
    // A worker serves its probes only; the API's routes are the API instances' business.
    if (role === 'worker' && !isOperationalRoute(request.url)) {
      sendProblem(request, reply, new AppError('NOT_FOUND'), frameworkLogger);
      return reply;
    }
    // A path that exists, asked with a method it does not take: 405 with Allow, not 404.
    const allowed = request.is404 ? routeMethods.allowed(request.url) : [];
    if (allowed.length > 0) {
      void reply.header('allow', allowed.join(', '));
      sendProblem(request, reply, new AppError('METHOD_NOT_ALLOWED'), frameworkLogger);
      return reply;
    }
  });
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.BODY_LIMIT }, (request, body, done) => {
    if (body === '') return done(null, undefined);
    void parseJson(request, body as string, (error, value) => {
      if (error) return done(error, undefined);
      const problem = checkJsonShape(value);
      return problem ? done(AppError.validation([problem], problem.message), undefined) : done(null, value);
    });
  });

  await app.register(helmet, { contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'same-site' } });
  app.useGlobalFilters(new HttpExceptionFilter());
  app.useGlobalPipes(createValidationPipe());
  if (role === 'worker') return app;
  app.useWebSocketAdapter(new RedisIoAdapter(app, config));
  await serveEditor(app);

  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs/openapi.json' });
  return app;
}
