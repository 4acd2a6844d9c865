/** One of a user's changes in a session's kept log: the step that wrote it, and what it inverts. */
export interface LoggedStepChange {
  seq: number;
  /** The step's id; a change written alone (outside a transaction) is a step of its own. */
  step: string;
  undoOf: number | null;
}

type StepKind = 'edit' | 'undo' | 'redo' | 'unknown';

/**
 * The step an undo (or a redo) of this user would invert, replayed from their changes in the
 * kept log, oldest first: an edit goes on the undo stack and clears the redo stack; an undo
 * takes its step off the undo stack and goes on the redo stack; a redo (an undo of an undo)
 * goes back on the undo stack. A step whose first change is the oldest the log keeps may have
 * lost earlier changes to pruning, and so may anything that inverts what the log no longer
 * holds: neither is offered. Returns the step's id, or null when there is nothing to invert.
 */
export function nextStep(changes: LoggedStepChange[], oldestKept: number, direction: 'undo' | 'redo'): string | null {
  const stepOfSeq = new Map<number, string>();
  const firstSeq = new Map<string, number>();
  const firstUndoOf = new Map<string, number | null>();
  for (const change of changes) {
    stepOfSeq.set(change.seq, change.step);
    if (!firstSeq.has(change.step)) {
      firstSeq.set(change.step, change.seq);
      firstUndoOf.set(change.step, change.undoOf);
    }
  }
  const kinds = new Map<string, StepKind>();
  let undo: string[] = [];
  let redo: string[] = [];
  for (const [step, first] of firstSeq) {
    const undoOf = firstUndoOf.get(step) ?? null;
    const whole = first > oldestKept || oldestKept <= 1;
    if (undoOf === null) {
      kinds.set(step, whole ? 'edit' : 'unknown');
      redo = [];
      if (whole) undo.push(step);
      continue;
    }
    const target = stepOfSeq.get(undoOf);
    const targetKind = target === undefined ? 'unknown' : (kinds.get(target) ?? 'unknown');
    if (targetKind === 'unknown' || !whole) {
      kinds.set(step, 'unknown');
    } else if (targetKind === 'undo') {
      kinds.set(step, 'redo');
      redo = redo.filter((s) => s !== target);
      undo.push(step);
    } else {
      kinds.set(step, 'undo');
      undo = undo.filter((s) => s !== target);
      redo.push(step);
    }
  }
  const stack = direction === 'undo' ? undo : redo;
  return stack.at(-1) ?? null;
}
