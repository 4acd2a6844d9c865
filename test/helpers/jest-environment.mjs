/**
 * Jest's node environment, plus one thing for the worker processes that run the suites:
 * once Jest tells a worker it is done, the worker ends with process.exit() instead of
 * waiting for its event loop to empty.
 *
 * Jest's worker, told to end, only stops listening to Jest and lets its event loop run
 * dry; Jest kills any worker still alive half a second later and prints "A worker process
 * has failed to exit gracefully". Two things outlast that half second:
 *
 * - The heap's teardown. A worker that returns from its loop makes Node dispose its V8
 *   heap page by page, and the heap of a worker that ran a few end-to-end files is large
 *   (Node 20 keeps every test file's module graph: Jest loads them through
 *   vm.SourceTextModule, which it never collects).
 * - Handles a library keeps after its suite closed it: a browser's pipes being closed, a
 *   pool's idle timer, a socket in its lingering close.
 *
 * process.exit() ends the process at once. Nothing is lost: Jest has every result by then.
 * With TESSERA_JEST_HANDLES=1 the worker prints what was still open when it was told to end.
 */
import { TestEnvironment } from 'jest-environment-node';

/** jest-worker's "end" message to its children (CHILD_MESSAGE_END in jest-worker's types). */
const CHILD_MESSAGE_END = 2;

let hooked = false;

export default class TesseraTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    // Only in Jest's child processes (they talk to Jest over IPC), never in Jest's own.
    if (!hooked && typeof process.send === 'function' && process.env.JEST_WORKER_ID) {
      hooked = true;
      process.once('beforeExit', (code) => process.exit(code));
      process.on('message', (message) => {
        if (!Array.isArray(message) || message[0] !== CHILD_MESSAGE_END) return;
        // jest-worker runs its own end handler first (it is registered before this one); leave
        // it a moment, then end whatever is still open.
        setTimeout(() => {
          if (process.env.TESSERA_JEST_HANDLES === '1') {
            process.stderr.write(
              `[jest worker ${process.env.JEST_WORKER_ID}] open at end: ${process.getActiveResourcesInfo().join(', ')}; rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB\n`,
            );
          }
          process.exit(0);
        }, 50).unref();
      });
    }
  }
}
