import { OnEvent } from '@nestjs/event-emitter';
import type { Actor } from '../contract/actor.js';
import type { BlockView } from '../contract/block.js';
import type { ChangeEvent } from '../contract/change.js';
import type { Visibility } from '../contract/session.js';
import type { JobError } from '../queues/job-error.js';
import type { JobState } from '../queues/job.view.js';
import type { QueueName } from '../queues/queue.names.js';

/** A change, published once the transaction that made it commits. */
export interface CommittedChange {
  sessionKey: string;
  /** Internal: for server-side subscribers only, never sent to clients. */
  sessionId: string;
  change: ChangeEvent;
  /** Internal: the session's visibility as the change's own statement saw it, which decides who may receive it. */
  visibility: Visibility;
  /** Internal: the owner and (of a private session, or after a member change) the members, who with `visibility` decide who may receive it. */
  ownerId?: string | null;
  memberRoles?: unknown;
  /** `session.updated` that lowered `visibility`: live access must be re-checked. */
  visibilityLowered?: boolean;
  /** `member.*`: the users whose role changed (their live sockets are told, or leave if they can no longer read). */
  rolesChanged?: string[];
}

/** A write refused for a stale version, so collaborators see who is racing. */
export interface BlockConflictEvent {
  sessionKey: string;
  /** Internal: who may see `current`. */
  visibility: Visibility;
  ownerId: string | null;
  memberRoles: unknown;
  blockId: string;
  attemptedVersion: number;
  current: BlockView;
  actor: Actor;
  /** The connection whose write was refused (it gets the refusal as its answer instead). */
  origin?: string;
}

/** A session was deleted (its change log went with it, so this is not a change). */
export interface SessionDeletedEvent {
  key: string;
  actor: Actor;
  at: string;
}

/** A user was deleted (their owned sessions were deleted with them, each announced as `session.deleted`). */
export interface UserDeletedEvent {
  userId: string;
  at: string;
  /** Who deleted them (the user themselves, or an operator). */
  actor: Actor;
  /** Internal: the ids of the sessions they were a member of when deleted; they still hold the user's role until it is taken off. */
  memberOf: string[];
}

/** An operator cleared a user's limits: modules that keep windows of their own for that user clear them too. */
export interface RateLimitsResetEvent {
  userId: string;
}

/** A job of a session changed state or progress (published by the worker that runs it). */
export interface JobUpdatedEvent {
  sessionKey: string;
  /** The session the job was asked for (its key may name a newer one by now); absent on jobs queued before sessions were recorded. */
  sessionId?: string;
  /** The socket event `job`, as the session's room receives it. */
  payload: {
    jobId: string;
    queue: QueueName;
    name: string;
    state: JobState;
    progress: number;
    result?: unknown;
    error?: JobError;
  };
}

/**
 * Every event on the in-process bus, by name, with its payload. Subscribers never run
 * inside a write; a publisher that awaits `EventBus.emit` resumes once every subscriber ran.
 */
export interface AppEvents {
  'change.committed': CommittedChange;
  'block.conflict': BlockConflictEvent;
  'session.deleted': SessionDeletedEvent;
  'user.deleted': UserDeletedEvent;
  'rate-limits.reset': RateLimitsResetEvent;
  'job.updated': JobUpdatedEvent;
  /** After the drain delay, just before the application closes: long-lived connections say goodbye while in-flight requests still finish. */
  'app.closing': undefined;
}

export type AppEventName = keyof AppEvents;

/** Subscribes the decorated method to one event; its parameter must take that event's payload. */
export function OnAppEvent<N extends AppEventName>(
  name: N,
): <M extends (payload: AppEvents[N]) => unknown>(target: object, method: string | symbol, descriptor: TypedPropertyDescriptor<M>) => void {
  return OnEvent(name);
}
