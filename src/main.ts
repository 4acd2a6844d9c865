import 'reflect-metadata';
import { runProcess } from './bootstrap/run-process.js';

/**
 * The API process: HTTP and Socket.IO, and the queue workers too with RUN_WORKERS=true.
 * `--migrate` (used by `npm start`) applies pending migrations first.
 */
runProcess('api');
