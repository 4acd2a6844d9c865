import 'reflect-metadata';
import { startTelemetry } from './telemetry/telemetry.bootstrap.js';

/** The worker process: the BullMQ queue workers only, with the health routes on PORT for its probes. */
await startTelemetry('worker');
const { runProcess } = await import('./bootstrap/run-process.js');
runProcess('worker');
