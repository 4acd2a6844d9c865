import { z } from 'zod';
import { BlockIdParam, CreateBlockBody, MoveBlockBody, UpdateBlockBody } from '../blocks/dto/block.dto.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { SESSION_KEY_PATTERN } from '../common/session-key-format.js';
import type { Principal } from '../common/principal.js';

/**
 * The socket protocols this server speaks; a handshake asking for another is refused.
 * 1: one `change` event per change. 2: one `changes` event `{key, changes}` per session and tick.
 */
export const PROTOCOL_VERSION = 2;
export const MIN_PROTOCOL_VERSION = 1;
export type Protocol = 1 | 2;

export const NAMESPACE = '/collab';

/** The events a client sends, each answered by an ack. */
export const CLIENT_EVENTS = {
  join: 'session.join',
  leave: 'session.leave',
  presence: 'presence.update',
  create: 'block.create',
  update: 'block.update',
  move: 'block.move',
  delete: 'block.delete',
  undo: 'session.undo',
  redo: 'session.redo',
} as const;
export const KNOWN_CLIENT_EVENTS: ReadonlySet<string> = new Set(Object.values(CLIENT_EVENTS));

/** Every socket that joined the session. */
export const roomOf = (sessionKey: string) => `s:${sessionKey}`;
/** The sockets of operators in the session, who read it whatever its visibility. */
export const operatorsRoomOf = (sessionKey: string) => `s:${sessionKey}:o`;
/** The sockets of one signed-in user in the session (each user socket joins its own). */
export const userRoomOf = (sessionKey: string, userId: string) => `s:${sessionKey}:u:${userId}`;

/** Who may receive a change: the session's visibility, owner and members as the change's own statement saw them. */
export interface Audience {
  visibility: Visibility;
  ownerId?: string | null;
  memberRoles?: unknown;
}

/**
 * Where a conflict (which shows the stored block) may go, as of the statement that saw it:
 * a private session's go to its operators' room and to the rooms of its owner and members
 * only. A socket is in exactly one of these rooms (its user's or the operators'), so
 * sending to each in turn delivers once. Changes do not use these rooms: each carries its
 * audience and is checked per socket where it is delivered (see change-batch).
 */
export function readerRoomsOf(sessionKey: string, audience: Audience): string[] {
  if (audience.visibility !== 'private') return [roomOf(sessionKey)];
  const users = Object.keys((audience.memberRoles as Record<string, unknown> | null | undefined) ?? {});
  if (audience.ownerId) users.push(audience.ownerId);
  return [operatorsRoomOf(sessionKey), ...users.map((userId) => userRoomOf(sessionKey, userId))];
}

/** The rooms a socket of `principal` joins in a session. */
export function roomsFor(sessionKey: string, principal: Principal): string[] {
  if (principal.kind === 'admin') return [roomOf(sessionKey), operatorsRoomOf(sessionKey)];
  if (principal.kind === 'user') return [roomOf(sessionKey), userRoomOf(sessionKey, principal.userId)];
  return [roomOf(sessionKey)];
}

const sessionKey = z.string().regex(SESSION_KEY_PATTERN, 'must be a session key');
const version = z.number().int().min(1).max(2_147_483_647);
const target = { key: sessionKey, id: BlockIdParam };

export const JoinPayload = z.object({ key: sessionKey, since: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }).strict();
export type JoinPayload = z.infer<typeof JoinPayload>;
export const LeavePayload = z.object({ key: sessionKey }).strict();
export type LeavePayload = z.infer<typeof LeavePayload>;
export const PresencePayload = z
  .object({
    key: sessionKey,
    cursor: z
      .object({ blockId: BlockIdParam, offset: z.number().int().min(0).max(10_000_000) })
      .strict()
      .optional(),
    selection: z
      .unknown()
      .refine((s) => JSON.stringify(s ?? null).length <= 2048, 'must be at most 2 KiB of JSON')
      .optional(),
    status: z.string().max(40).optional(),
  })
  .strict();
export type PresencePayload = z.infer<typeof PresencePayload>;

/** Block events: the HTTP route's body plus where it goes, validated by the same rules. */
export const CreateBlockEvent = CreateBlockBody.safeExtend({ key: sessionKey });
export type CreateBlockEvent = z.infer<typeof CreateBlockEvent>;
export const UpdateBlockEvent = UpdateBlockBody.safeExtend({ ...target, merge: z.literal('fields').optional() });
export type UpdateBlockEvent = z.infer<typeof UpdateBlockEvent>;
export const MoveBlockEvent = MoveBlockBody.safeExtend(target);
export type MoveBlockEvent = z.infer<typeof MoveBlockEvent>;
export const DeleteBlockEvent = z.object({ ...target, version }).strict();
export type DeleteBlockEvent = z.infer<typeof DeleteBlockEvent>;
/** `session.undo` and `session.redo`: the caller's own latest step in the session. */
export const UndoEvent = z.object({ key: sessionKey }).strict();
export type UndoEvent = z.infer<typeof UndoEvent>;
