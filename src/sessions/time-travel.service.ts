import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { AppError } from '../errors/app-error.js';
import { SessionAccess } from './session-access.service.js';
import { roleIn } from './session-access.js';
import { TimeTravelRepository, type DiffRow } from './time-travel.repository.js';

export type DiffChange = 'created' | 'updated' | 'moved' | 'deleted';

/**
 * Read-only views of a session's past, for any caller who may read it now: the session as
 * of a seq, and what changed between two seqs. Both reach back as far as the change log
 * keeps every later change; neither goes through the cache (a past view never replaces the
 * current one there).
 */
@Injectable()
export class TimeTravel {
  constructor(
    private readonly access: SessionAccess,
    private readonly history: TimeTravelRepository,
  ) {}

  /** The body of GET /api/sessions/:key?atSeq=n as JSON text in parts: the session, `role`, `atSeq` and its blocks then. */
  async documentAt(principal: Principal, key: string, n: number): Promise<string[]> {
    const ref = await this.access.require(principal, key, 'read');
    const past = await this.history.documentAt(ref.id, n);
    if (!past) throw new AppError('SESSION_NOT_FOUND');
    reachable(past, n);
    const parts = [past.session.slice(0, -1), `, "role" : "${roleIn(ref.head, principal)}", "atSeq" : ${n}, "blocks" : [`];
    for (const [i, block] of past.blocks.entries()) parts.push(i === 0 ? block : `, ${block}`);
    parts.push(']}');
    return parts;
  }

  /**
   * The body of GET /api/sessions/:key/diff as JSON text: each block that differs between
   * `from` and `to`, in id order. A block created and deleted within the range is left out,
   * and so is one that ends where it began; one whose type or content changed is `updated`
   * (its `after` shows where it ended too), one that only changed place is `moved`.
   */
  async diff(principal: Principal, key: string, from: number, to: number): Promise<string[]> {
    const ref = await this.access.require(principal, key, 'read');
    const diff = await this.history.diff(ref.id, from, to);
    if (!diff) throw new AppError('SESSION_NOT_FOUND');
    if (to > diff.seq) throw new AppError('SEQ_OUT_OF_RANGE', `seq ${to} is past this session's latest change (${diff.seq}).`);
    reachable(diff, from);
    const parts = [`{"from" : ${from}, "to" : ${to}, "blocks" : [`];
    let first = true;
    for (const row of diff.blocks) {
      const change = changeOf(row);
      if (!change) continue;
      parts.push(
        `${first ? '' : ', '}{"id" : "${row.id}", "change" : "${change}", "before" : ${row.before ?? 'null'}, "after" : ${row.after ?? 'null'}}`,
      );
      first = false;
    }
    parts.push(']');
    if (diff.session) parts.push(`, "session" : {"before" : ${diff.session.before}, "after" : ${diff.session.after}}`);
    parts.push('}');
    return parts;
  }
}

function changeOf(row: DiffRow): DiffChange | null {
  if (row.before === null) return row.after === null ? null : 'created';
  if (row.after === null) return 'deleted';
  if (row.rewritten) return 'updated';
  return row.moved ? 'moved' : null;
}

/** 400 past the session's seq; 410 when the log no longer holds what the answer needs. */
function reachable(state: { seq: number; kept: boolean; lost: boolean }, n: number): void {
  if (n > state.seq) throw new AppError('SEQ_OUT_OF_RANGE', `seq ${n} is past this session's latest change (${state.seq}).`);
  if (!state.kept || state.lost) {
    throw new AppError(
      'CHANGES_EXPIRED',
      `The changes after seq ${n} are no longer kept; the session's history does not reach back that far.`,
    );
  }
}
