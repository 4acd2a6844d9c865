import { describe, expect, it } from '@jest/globals';
import { nextStep, type LoggedStepChange } from '../../src/undo/undo-stack.js';

/** A user's changes: `[seq, step, undoOf?]`. */
const log = (...rows: Array<[number, string, number?]>): LoggedStepChange[] =>
  rows.map(([seq, step, undoOf]) => ({ seq, step, undoOf: undoOf ?? null }));

describe('nextStep (undo and redo stacks replayed from the log)', () => {
  it('undoes the latest step, a batch as one, then the one before', () => {
    const edits = log([1, 'a'], [2, 'b'], [3, 'b'], [4, 'c']);
    expect(nextStep(edits, 1, 'undo')).toBe('c');
    expect(nextStep(edits, 1, 'redo')).toBeNull();
    const afterUndo = [...edits, ...log([5, 'u1', 4])];
    expect(nextStep(afterUndo, 1, 'undo')).toBe('b');
    expect(nextStep(afterUndo, 1, 'redo')).toBe('u1');
    const batchUndone = [...afterUndo, ...log([6, 'u2', 3], [7, 'u2', 2])];
    expect(nextStep(batchUndone, 1, 'undo')).toBe('a');
    expect(nextStep(batchUndone, 1, 'redo')).toBe('u2');
  });

  it('puts a redo back on the undo stack, and clears the redo stack on a new edit', () => {
    const undone = log([1, 'a'], [2, 'b'], [3, 'u1', 2], [4, 'u2', 1]);
    const redone = [...undone, ...log([5, 'r1', 4])];
    expect(nextStep(redone, 1, 'undo')).toBe('r1');
    expect(nextStep(redone, 1, 'redo')).toBe('u1');
    const undoneAgain = [...redone, ...log([6, 'u3', 5])];
    expect(nextStep(undoneAgain, 1, 'redo')).toBe('u3');
    const edited = [...redone, ...log([6, 'c'])];
    expect(nextStep(edited, 1, 'redo')).toBeNull();
    expect(nextStep(edited, 1, 'undo')).toBe('c');
  });

  it('offers nothing the pruned log may have cut', () => {
    // The log starts at 10: step "a" began at 10 and may have begun earlier; the undo at 12 inverts a pruned change.
    const pruned = log([10, 'a'], [11, 'b'], [12, 'u', 3]);
    expect(nextStep(pruned, 10, 'undo')).toBe('b');
    expect(nextStep(pruned, 10, 'redo')).toBeNull();
    expect(nextStep(log([10, 'a']), 10, 'undo')).toBeNull();
    expect(nextStep([], 0, 'undo')).toBeNull();
  });
});
