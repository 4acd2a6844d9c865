import { z } from 'zod';
import { BlockIdParam, CreateBlockBody, MoveBlockBody, UpdateBlockBody } from '../blocks/dto/block.dto.js';

/** The socket protocol this server speaks; a handshake asking for another is refused. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;

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
} as const;
export const roomOf = (sessionKey: string) => `s:${sessionKey}`;

const sessionKey = z.string().max(64);
const version = z.number().int().min(1).max(2_147_483_647);

export const JoinPayload = z.object({ key: sessionKey, since: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }).strict();
export const LeavePayload = z.object({ key: sessionKey }).strict();
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
/** Block events: the HTTP body plus where it goes. */
export const BlockTarget = z.object({ key: sessionKey, id: BlockIdParam });
export const DeletePayload = z.object({ key: sessionKey, id: BlockIdParam, version }).strict();
export const UpdateOptions = z.object({ merge: z.literal('fields').optional() });

export { CreateBlockBody, MoveBlockBody, UpdateBlockBody };
