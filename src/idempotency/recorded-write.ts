import { AsyncLocalStorage } from 'node:async_hooks';
import { uniqueViolation } from '../database/sql-errors.js';

/** Where a single write's statement records its outcome: the caller's key and what it asked. */
export interface WriteRecord {
  scope: string;
  key: string;
  fingerprint: string;
}

/** A recorded single write: the stored block (as the statement returned it) and its seq. */
export interface RecordedOutcome {
  block: unknown;
  seq: number;
  merged?: boolean;
}

/** The `status` of a record that holds a write's outcome (replayed through its handler) rather than an answer. */
export const OUTCOME_STATUS = 0;

type RecordedWriteContext = { record: WriteRecord; recorded: boolean } | { replay: RecordedOutcome };

const storage = new AsyncLocalStorage<RecordedWriteContext>();

/**
 * Routes whose whole work is one block write (create, update, move, delete, over HTTP or a
 * socket) record their key in that write's own statement: no transaction around it, and the
 * group commit stays one statement per tick. These helpers carry the key from the
 * idempotency interceptor down to the write, and a recorded outcome back up on a replay.
 */
export const RecordedWrites = {
  /** Runs `fn` with its write recording `record`; true once a statement did. */
  async run<T>(record: WriteRecord, fn: () => Promise<T>): Promise<{ value: T; recorded: boolean }> {
    const context = { record, recorded: false };
    const value = await storage.run(context, fn);
    return { value, recorded: context.recorded };
  },

  /** Runs `fn` with its write answered by `outcome` instead of writing. */
  replay<T>(outcome: RecordedOutcome, fn: () => Promise<T>): Promise<T> {
    return storage.run({ replay: outcome }, fn);
  },

  /** The record the current write's statement carries, if its route records with the write. */
  record(): WriteRecord | undefined {
    const context = storage.getStore();
    return context && 'record' in context ? context.record : undefined;
  },

  /** Told by the write once its statement (with the record) has committed. */
  recorded(): void {
    const context = storage.getStore();
    if (context && 'record' in context) context.recorded = true;
  },

  /** The outcome to answer with instead of writing, on a replay. */
  replayed(): RecordedOutcome | undefined {
    const context = storage.getStore();
    return context && 'replay' in context ? context.replay : undefined;
  },
};

/** A write's statement found its key already recorded: another run of the same request answered first. */
export class KeyAlreadyRecorded extends Error {
  constructor() {
    super('this idempotency key was recorded by another run');
  }
}

/** True for the unique violation of a record's key: the statement wrote nothing, another run holds the key. */
export function isRecordCollision(error: unknown): boolean {
  const index = uniqueViolation(error);
  return index !== null && (index.includes('idempotency_records') || index === 'scope,key');
}
