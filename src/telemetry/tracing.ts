import { register } from 'node:module';
import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  processDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BullMQOtel } from 'bullmq-otel';
import { isOperationalRoute } from '../common/operational-routes.js';
import { tracing } from './tracing.state.js';

/**
 * The application is ES modules, and so are the imports of `pg` and `ioredis` in it and in
 * its dependencies: those go through Node's ESM loader, which require-hooks never see.
 * import-in-the-middle's loader (re-exported by @opentelemetry/instrumentation) wraps just
 * these modules, so the instrumentations can patch them when they load.
 */
const HOOKED_MODULES = ['pg', 'pg-pool', 'ioredis'];

/** Socket.IO's polling and upgrade requests: its events get spans of their own. */
const SOCKET_TRANSPORT = /^\/socket\.io\//;

export function startTracing(serviceName: string): void {
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: HOOKED_MODULES } });
  if (process.env.OTEL_LOG_LEVEL?.toUpperCase() === 'DEBUG') diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.DEBUG);

  const resource = defaultResource()
    .merge(resourceFromAttributes({ 'service.name': serviceName }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults above.
    .merge(detectResources({ detectors: [hostDetector, processDetector, envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  provider.register();

  registerInstrumentations({
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => isOperationalRoute(request.url ?? '') || SOCKET_TRANSPORT.test(request.url ?? ''),
        requireParentforOutgoingSpans: true,
      }),
      // Statements and commands are traced inside a request, a socket event or a job, never
      // the background polling (BullMQ's blocking reads, sweeps) on their own.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });

  tracing.enabled = true;
  tracing.jobs = new BullMQOtel({ tracerName: 'tessera' });
  tracing.stop = () => provider.shutdown();
}
