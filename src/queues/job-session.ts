import { AppError } from '../errors/app-error.js';
import type { RequestedJob } from './queue.names.js';

/**
 * A job belongs to the session it was asked for, not to its key: once that session is deleted
 * and the key names a new one, the job neither runs against nor shows itself to the new one.
 * Jobs queued before sessions were recorded carry no id and are matched by key alone.
 */
export function isJobOf(session: { id: string }, data: Partial<RequestedJob>): boolean {
  return data.sessionId === undefined || data.sessionId === session.id;
}

/** For handlers: the session the key names now, if it is the job's own; else SESSION_NOT_FOUND (no retry). */
export function requireJobSession<S extends { id: string }>(session: S, data: Partial<RequestedJob>): S {
  if (!isJobOf(session, data)) throw new AppError('SESSION_NOT_FOUND', 'The session this job was asked for was deleted.');
  return session;
}
