import {
  Catch,
  Injectable,
  Logger,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type WsExceptionFilter,
} from '@nestjs/common';
import { finalize, map, type Observable } from 'rxjs';
import { isRecord } from '../common/call-context.js';
import { AppError } from '../errors/app-error.js';
import { checkJsonShape } from '../errors/json-shape.js';
import { toProblem } from '../errors/problem.js';
import { traceSocketEvent } from '../telemetry/socket.tracing.js';

/** Socket acks: `{ok: true, ...}` or the problem an HTTP client would get, as `{ok: false, code, message, status, ...}`. */
export type Ack = { ok: true; [field: string]: unknown } | { ok: false; code: string; message: string; [field: string]: unknown };

export function errorAck(error: unknown): Ack {
  const { problem } = toProblem(error);
  const { type: _type, title: _title, status, detail, code, ...extensions } = problem;
  return { ...extensions, ok: false, code, message: detail, status };
}

/** The ack callback of a socket event, if the client sent one: Nest passes (socket, payload, ack, pattern). */
const ackOf = (host: ArgumentsHost): ((answer: Ack) => void) | undefined => {
  const ack: unknown = host.getArgByIndex(2);
  return typeof ack === 'function' ? (ack as (answer: Ack) => void) : undefined;
};

/**
 * Every failed socket event, from a guard, a pipe or the handler, is answered as a negative
 * ack built by the same mapper as HTTP problems; internals are logged, never sent.
 */
@Catch()
export class SocketAckFilter implements WsExceptionFilter {
  private readonly logger = new Logger('SocketEvent');

  catch(error: unknown, host: ArgumentsHost): void {
    const { internal } = toProblem(error);
    if (internal) this.logger.error(`socket event ${String(host.getArgByIndex(3))} failed: ${(error as Error).stack ?? String(error)}`);
    ackOf(host)?.(errorAck(error));
  }
}

/** Socket events being handled now, so a drain can wait for their acks. */
@Injectable()
export class SocketEventsInFlight {
  count = 0;
}

/**
 * A handler's result becomes the positive ack `{ok: true, ...result}`; the event counts as in
 * flight until answered, and is traced (when tracing is on) under its event name.
 */
@Injectable()
export class SocketAckInterceptor implements NestInterceptor {
  constructor(private readonly inFlight: SocketEventsInFlight) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<Ack> {
    this.inFlight.count++;
    const ws = context.switchToWs();
    return traceSocketEvent(String(ws.getPattern()), ws.getData(), () => next.handle()).pipe(
      map((result: unknown) => ({ ok: true as const, ...(isRecord(result) ? result : {}) })),
      finalize(() => this.inFlight.count--),
    );
  }
}

/**
 * Socket payloads pass the checks HTTP bodies pass in the JSON parser (an object, depth,
 * NUL, lone surrogates, prototype keys) before anything else looks at them.
 */
@Injectable()
export class SocketPayloadGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const payload: unknown = context.switchToWs().getData();
    if (!isRecord(payload)) throw AppError.validation([{ field: '(body)', message: 'must be an object' }]);
    const problem = checkJsonShape(payload);
    if (problem) throw AppError.validation([problem], problem.message);
    return true;
  }
}
