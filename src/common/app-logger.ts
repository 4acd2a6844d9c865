import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger as Pino } from 'pino';
import { isOperationalRoute } from './operational-routes.js';

/** Nest's start-up lines: one per module initialised, controller, route mapped and socket event subscribed. */
const STARTUP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestApplication',
]);

/** The process's one pino logger: a JSON line per entry on stdout. */
export function createRootLogger(level: string): Pino {
  return pino({ level });
}

/**
 * Nest's logger interface over pino: `{context, msg}` lines, an error's stack under `err`.
 * Nest's start-up lines (about a hundred) go out at debug instead of info, so a start prints
 * Tessera's few lines and LOG_LEVEL=debug still shows the route map. Nest passes a line's
 * context as its last parameter, and an error's stack before it.
 */
export class AppLogger implements LoggerService {
  constructor(private readonly logger: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = contextOf(params);
    this.write(context && STARTUP_CONTEXTS.has(context) ? 'debug' : 'info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params, true);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params, true);
  }

  private write(
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace',
    message: unknown,
    params: unknown[],
    withStack = false,
  ): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const context = contextOf(params);
    const fields: Record<string, unknown> = context ? { context } : {};
    const stack = withStack && params.length >= 2 && typeof params.at(-2) === 'string' ? (params.at(-2) as string) : undefined;
    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...fields, ...(stack ? { err: { stack } } : {}), ...message });
    } else {
      this.logger[level]({ ...fields, ...(stack ? { err: { stack } } : {}) }, String(message));
    }
  }
}

function contextOf(params: unknown[]): string | undefined {
  const last = params.at(-1);
  return typeof last === 'string' ? last : undefined;
}

interface LoggedRequest {
  id: string;
  method: string;
  url: string;
  ip: string;
}

/**
 * One line per answer, written when the answer has been sent: the request (its id, method,
 * URL with any download signature redacted, address), the status and the time it took. A
 * 5xx is Tessera's problem and logs at error; any other answer, a 4xx included (the
 * client's business, answered as designed), at info. Probes and scrapes are not traffic.
 */
export function logAnswers(fastify: FastifyInstance, logger: Pino): void {
  // At LOG_LEVEL=warn or error only the 5xx are written; at fatal or silent no answer is.
  if (!logger.isLevelEnabled('error')) return;
  const answersToo = logger.isLevelEnabled('info');
  fastify.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    if ((status >= 500 || answersToo) && !isOperationalRoute(request.url)) {
      logger[status >= 500 ? 'error' : 'info'](
        { req: requestOf(request), res: { statusCode: status }, responseTime: Math.round(reply.elapsedTime) },
        status >= 500 ? 'request errored' : 'request completed',
      );
    }
    done();
  });
}

function requestOf(request: LoggedRequest) {
  return {
    id: request.id,
    method: request.method,
    // A signed download URL is a credential: its signature stays out of the logs.
    url: request.url.replace(/([?&]signature=)[^&]*/, '$1[redacted]'),
    remoteAddress: request.ip,
  };
}
