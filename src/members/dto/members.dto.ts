import { z } from 'zod';
import { PageQuery } from '../../common/pagination.js';

const memberRole = z.enum(['editor', 'viewer']);

export const MemberUserParam = z.uuid({ message: 'must be a UUID' });
export const InviteIdParam = z.uuid({ message: 'must be a UUID' });
/** Anything else names no invitation (answered 404 and counted as a probe, never 400). */
export const INVITE_TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

export const PutMemberBody = z.object({ role: memberRole }).strict().meta({ id: 'PutMemberBody' });
export type PutMemberBody = z.infer<typeof PutMemberBody>;

export const TransferOwnerBody = z.object({ userId: MemberUserParam }).strict().meta({ id: 'TransferOwnerBody' });
export type TransferOwnerBody = z.infer<typeof TransferOwnerBody>;

export const CreateInviteBody = z
  .object({
    role: memberRole,
    expiresInHours: z.number().int().min(1).max(720).default(168),
    maxUses: z.number().int().min(1).max(1000).nullable().default(null),
  })
  .strict()
  .meta({ id: 'CreateInviteBody' });
export type CreateInviteBody = z.infer<typeof CreateInviteBody>;

export const MembersQuery = PageQuery;
export type MembersQuery = z.infer<typeof MembersQuery>;
