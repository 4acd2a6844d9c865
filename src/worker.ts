import 'reflect-metadata';
import { runProcess } from './bootstrap/run-process.js';

/** The worker process: the BullMQ queue workers only, with the health routes on PORT for its probes. */
runProcess('worker');
