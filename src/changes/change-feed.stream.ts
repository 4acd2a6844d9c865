import type { ServerResponse } from 'node:http';
import type { Principal } from '../common/principal.js';
import type { ChangeEvent } from '../contract/change.js';
import { AppError } from '../errors/app-error.js';
import { roleIn } from '../sessions/session-access.js';
import type { ChangesPage } from './changes.service.js';
import type { FeedMessage } from './change-feed.channel.js';

/** Reads the log after `since` for this reader, checking their access afresh (ChangesService.follow). */
export type FeedSource = (since: number) => Promise<ChangesPage>;

/** Why a stream ended: told to the reader (`revoked`), cut (`slow`), or ended by either side. */
export type FeedEnd = 'access' | 'deleted' | 'expired' | 'slow' | 'draining' | 'closed';

type LiveChange = Extract<FeedMessage, { type: 'change' }>;

/** How long a change that arrived ahead of an earlier one waits for it before the log is read. */
const GAP_WAIT_MS = 250;
/** Changes held ahead of a gap; past this, the log is read at once. */
const PENDING_MAX = 256;
/** After a failed read of the log (a database outage), the next try. */
const RETRY_MS = 2000;
/** A reader catching up that takes nothing of what it was sent for this long is cut as slow. */
const STALLED_MS = 30_000;
/** How often a reader catching up is looked at while its connection is full. */
const DRAIN_CHECK_MS = 1000;

/**
 * One reader's change feed: every change after its last seq exactly once and in seq order.
 * Live changes arrive from the session's channel, possibly out of order (concurrent commits
 * on several instances) or with holes (Redis away); a hole that does not fill at once is read
 * from the change log, after which the reader's access is checked again. A live change is
 * sent only to a reader its own commit's audience includes; a reader who loses access is told
 * (`event: revoked`) and the stream ends. A live reader that stops reading is cut once its
 * unsent data passes `maxBuffered`; one catching up on the log gets its next page once the
 * last one has drained, however long that takes on a slow link, unless it takes nothing at
 * all for STALLED_MS.
 */
export class FeedStream {
  private readonly pending = new Map<number, LiveChange>();
  /** Reading the log (and at first, until the backlog is sent): live changes wait in `pending`. */
  private filling = true;
  private fillAgain = false;
  private timer?: NodeJS.Timeout;
  private ended = false;

  constructor(
    private readonly response: ServerResponse,
    readonly principal: Principal,
    private readonly key: string,
    private readonly sessionId: string,
    private lastSeq: number,
    private readonly source: FeedSource,
    private readonly maxBuffered: number,
    private readonly onEnd: (reason: FeedEnd) => void,
  ) {
    response.once('close', () => this.end('closed'));
  }

  get seq(): number {
    return this.lastSeq;
  }

  /** The first page of the backlog, read before the stream started; then the rest of it, and what arrived meanwhile. */
  start(first: ChangesPage): void {
    this.filling = false;
    if (!this.sendAll(first.items)) return;
    if (this.lastSeq < first.seq || this.fillAgain) return void this.fill();
    for (const seq of this.pending.keys()) if (seq <= this.lastSeq) this.pending.delete(seq);
    this.flush();
  }

  receive(message: FeedMessage): void {
    if (this.ended) return;
    switch (message.type) {
      case 'deleted':
        return this.revoke('deleted');
      case 'resync':
        return void this.fill();
      case 'user.deleted':
        if (this.principal.kind === 'user' && this.principal.userId === message.userId) this.revoke('access');
        return;
      case 'change':
        if (message.sessionId !== this.sessionId || message.change.seq <= this.lastSeq) return;
        // While the log is being read, a burst is not held in memory: it is read from the log next.
        if (this.filling && this.pending.size >= PENDING_MAX) {
          this.fillAgain = true;
          return;
        }
        this.pending.set(message.change.seq, message);
        if (!this.filling) this.flush();
    }
  }

  heartbeat(): void {
    this.write(': keep-alive\n\n');
  }

  /** Ends the stream from the server's side (shutdown): the reader resumes elsewhere with Last-Event-ID. */
  close(reason: FeedEnd): void {
    if (this.ended) return;
    this.response.end();
    this.end(reason);
  }

  /** Sends the pending changes that follow the last one sent; waits briefly for a missing one, then reads the log. */
  private flush(): void {
    for (let next = this.pending.get(this.lastSeq + 1); next && !this.ended; next = this.pending.get(this.lastSeq + 1)) {
      this.pending.delete(next.change.seq);
      const { visibility, ownerId = null, memberRoles = {} } = next.audience;
      const role = roleIn({ visibility, ownerId, memberRoles }, this.principal);
      // The change that took access away still goes to who could read before it; no later one does.
      const concernsReader =
        next.visibilityLowered === true || (this.principal.kind === 'user' && next.rolesChanged?.includes(this.principal.userId) === true);
      if (role === null && !concernsReader) return this.revoke('access');
      if (!this.send(next.change)) return;
      if (role === null) return this.revoke('access');
    }
    if (this.ended || this.pending.size === 0) return this.disarm();
    if (this.pending.size > PENDING_MAX) return void this.fill();
    this.timer ??= setTimeout(() => void this.fill(), GAP_WAIT_MS).unref();
  }

  /** Reads the log after the last seq sent until caught up, then sends what is pending past it. */
  private async fill(): Promise<void> {
    this.disarm();
    if (this.ended) return;
    if (this.filling) {
      this.fillAgain = true;
      return;
    }
    this.filling = true;
    try {
      let page: ChangesPage;
      do {
        this.fillAgain = false;
        if (!(await this.drained())) return;
        page = await this.source(this.lastSeq);
        if (this.ended || !this.sendAll(page.items)) return;
      } while ((page.items.length > 0 && this.lastSeq < page.seq) || this.fillAgain);
    } catch (error) {
      if (error instanceof AppError && error.code === 'SESSION_NOT_FOUND') return this.revoke('access');
      // The reader fell behind the kept log: it reconnects with Last-Event-ID and is told 410.
      if (error instanceof AppError && error.code === 'CHANGES_EXPIRED') return this.close('expired');
      this.timer = setTimeout(() => void this.fill(), RETRY_MS).unref();
      return;
    } finally {
      this.filling = false;
    }
    for (const seq of this.pending.keys()) if (seq <= this.lastSeq) this.pending.delete(seq);
    this.flush();
  }

  /** Waits until what was written has gone out; false when the stream ended meanwhile (or was cut for taking nothing). */
  private async drained(): Promise<boolean> {
    let left = this.response.writableLength;
    let progressAt = Date.now();
    while (!this.ended && this.response.writableNeedDrain) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.response.off('drain', done);
          this.response.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, DRAIN_CHECK_MS);
        this.response.once('drain', done);
        this.response.once('close', done);
      });
      const now = this.response.writableLength;
      if (now < left) [left, progressAt] = [now, Date.now()];
      else if (this.response.writableNeedDrain && Date.now() - progressAt > STALLED_MS) {
        this.response.destroy();
        this.end('slow');
      }
    }
    return !this.ended;
  }

  private sendAll(changes: ChangeEvent[]): boolean {
    for (const change of changes) if (change.seq > this.lastSeq && !this.send(change)) return false;
    return true;
  }

  private send(change: ChangeEvent): boolean {
    if (!this.write(`id: ${change.seq}\nevent: change\ndata: ${JSON.stringify(change)}\n\n`)) return false;
    this.lastSeq = change.seq;
    return true;
  }

  private revoke(reason: 'access' | 'deleted'): void {
    if (this.ended) return;
    this.write(`event: revoked\ndata: ${JSON.stringify({ key: this.key, reason })}\n\n`);
    this.close(reason);
  }

  private write(text: string): boolean {
    if (this.ended) return false;
    if (this.response.writableLength + text.length > this.maxBuffered) {
      this.response.destroy();
      this.end('slow');
      return false;
    }
    this.response.write(text);
    return true;
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private end(reason: FeedEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.disarm();
    this.pending.clear();
    this.onEnd(reason);
  }
}
