import type { Telemetry } from 'bullmq';

/**
 * Whether this process exports traces, and BullMQ's tracer when it does. Set once by
 * `startTelemetry()` before the application's modules load; the app only reads it, so with
 * tracing off nothing of the OpenTelemetry SDK is ever imported.
 */
export const tracing: { enabled: boolean; jobs?: Telemetry; stop?: () => Promise<void> } = { enabled: false };
