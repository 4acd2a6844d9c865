/**
 * Jest's node environment, plus one thing for the worker processes that run the suites:
 * when a worker has nothing left to do, it ends with process.exit() instead of returning
 * from its event loop.
 *
 * A worker that returns from its loop makes Node dispose its V8 heap page by page, and the
 * heap of a worker that ran a few end-to-end files is large (Node 20 keeps every test file's
 * module graph: Jest loads them through vm.SourceTextModule, which it never collects). The
 * teardown takes longer than the half second Jest waits for a worker to exit, and Jest then
 * kills it and prints "A worker process has failed to exit gracefully". process.exit() ends
 * the process without tearing the heap down; nothing is lost, since Jest has every result
 * by then and the event loop is empty (the `beforeExit` event fires only then).
 */
import { TestEnvironment } from 'jest-environment-node';

let hooked = false;

export default class TesseraTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    // Only in Jest's child processes (they talk to Jest over IPC), never in Jest's own.
    if (!hooked && typeof process.send === 'function' && process.env.JEST_WORKER_ID) {
      hooked = true;
      process.once('beforeExit', (code) => process.exit(code));
    }
  }
}
