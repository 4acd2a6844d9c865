import { setImmediate as nextTurn } from 'node:timers/promises';

/** How long one slice of a long loop may hold the event loop before it lets other work in. */
const TURN_MS = 5;

/**
 * Runs `step` over `items`, handing the event loop back whenever a slice has held it
 * TURN_MS: work over a large document (parsing or rendering its blocks one by one) then
 * runs between other requests instead of stalling them until it is done.
 */
export async function inTurns<T>(items: Iterable<T>, step: (item: T, index: number) => void): Promise<void> {
  let started = performance.now();
  let index = 0;
  for (const item of items) {
    step(item, index++);
    if (performance.now() - started >= TURN_MS) {
      await nextTurn();
      started = performance.now();
    }
  }
}
