import 'reflect-metadata';
import { startTelemetry } from './telemetry/telemetry.bootstrap.js';

/**
 * The API process: HTTP and Socket.IO, and the queue workers too with RUN_WORKERS=true.
 * `--migrate` (used by `npm start`) applies pending migrations first. Tracing starts before
 * the application is imported, so its instrumentations see `pg`, `ioredis` and `http` load.
 */
await startTelemetry('api');
const { runProcess } = await import('./bootstrap/run-process.js');
runProcess('api');
