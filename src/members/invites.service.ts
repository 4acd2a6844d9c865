import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { actorOf, type Principal } from '../common/principal.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { memberRoleOf, reaches, roleIn, type MemberRole, type Role } from '../sessions/session-access.js';
import { SessionAccess } from '../sessions/session-access.service.js';
import { INVITE_TOKEN_PATTERN, type CreateInviteBody } from './dto/members.dto.js';
import { InvitesRepository, type InviteRow } from './invites.repository.js';
import { MembersService } from './members.service.js';

/** 256 bits from the CSPRNG, base64url: 43 characters. */
const TOKEN_BYTES = 32;

export interface InviteView {
  id: string;
  role: MemberRole;
  expiresAt: string;
  maxUses: number | null;
  uses: number;
  revoked: boolean;
  createdAt: string;
}

const toInviteView = (row: InviteRow): InviteView => ({
  id: row.id,
  role: row.role,
  expiresAt: row.expiresAt.toISOString(),
  maxUses: row.maxUses,
  uses: row.uses,
  revoked: row.revokedAt !== null,
  createdAt: row.createdAt.toISOString(),
});

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

const usable = (invite: InviteRow, at: Date) =>
  invite.revokedAt === null && invite.expiresAt > at && (invite.maxUses === null || invite.uses < invite.maxUses);

/** Invitations to a session: a secret link that makes whoever accepts it a member with its role. */
@Injectable()
export class InvitesService {
  constructor(
    private readonly access: SessionAccess,
    private readonly invites: InvitesRepository,
    private readonly members: MembersService,
    private readonly tx: TransactionHost,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /**
   * The token is in this answer only; the database keeps its sha-256. At most
   * SESSION_INVITE_LIMIT invites of a session are live at once: counted and created under the
   * session's row lock, so concurrent creates cannot pass it together. Spent ones are kept for
   * the list up to as many again (the newest); older ones go when an invite is made.
   */
  async create(
    principal: Principal,
    key: string,
    body: CreateInviteBody,
  ): Promise<Omit<InviteView, 'revoked'> & { token: string; url: string }> {
    const { id: sessionId } = await this.access.require(principal, key, 'own');
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const row = await this.tx.run(async () => {
      await this.members.locked(sessionId, principal, 'own');
      const createdAt = new Date();
      if ((await this.invites.countLive(sessionId, createdAt)) >= this.config.SESSION_INVITE_LIMIT) {
        throw new AppError('INVITE_LIMIT_REACHED', `A session has at most ${this.config.SESSION_INVITE_LIMIT} live invitations.`);
      }
      await this.invites.trimSpent(sessionId, createdAt, this.config.SESSION_INVITE_LIMIT);
      return this.invites.create({
        id: randomUUID(),
        sessionId,
        tokenHash: hashOf(token),
        role: body.role,
        maxUses: body.maxUses,
        expiresAt: new Date(createdAt.getTime() + body.expiresInHours * 3600_000),
        createdBy: principal.kind === 'user' ? principal.userId : null,
        createdAt,
      });
    });
    const base = (this.config.PUBLIC_URL ?? '').replace(/\/$/, '');
    const { revoked: _revoked, ...view } = toInviteView(row);
    return { ...view, id: row.id, token, url: `${base}/?invite=${token}` };
  }

  async list(principal: Principal, key: string, limit: number, cursor?: string): Promise<Page<InviteView>> {
    const { id } = await this.access.require(principal, key, 'own');
    const rows = await this.invites.list(id, limit + 1, cursor === undefined ? undefined : decodeCursor(cursor));
    return toPage(rows, limit, toInviteView, (row) => encodeCursor({ createdAt: row.createdAt, id: row.id }));
  }

  async revoke(principal: Principal, key: string, inviteId: string): Promise<void> {
    const { id } = await this.access.require(principal, key, 'own');
    if (!(await this.invites.revoke(id, inviteId, new Date())))
      throw new AppError('NOT_FOUND', 'This session has no invitation with this id.');
  }

  /**
   * Makes the caller a member. A member (or the owner) whose role is already as high keeps it
   * and takes no use; a member below it is raised to it. Anyone else becomes a member with the
   * higher of the invite's role and the role the session's visibility already gives them, so
   * accepting never lowers a role and the membership outlasts a later change of visibility.
   * The use is taken by one conditional statement, under the session's row lock like every
   * member change.
   */
  async accept(principal: Principal, token: string): Promise<{ session: { key: string; title: string }; role: Role }> {
    if (principal.kind !== 'user') throw new AppError('AUTH_REQUIRED', 'Accepting an invitation needs a user token.');
    const invite = INVITE_TOKEN_PATTERN.test(token) ? await this.invites.findByHash(hashOf(token)) : null;
    if (!invite) throw new AppError('INVITE_NOT_FOUND');
    return this.tx.run(async () => {
      const at = new Date();
      const session = await this.members.lockedForInvite(invite.sessionId);
      const summary = { key: session.key, title: session.title };
      const member = memberRoleOf(session.memberRoles, principal.userId);
      if (session.ownerId === principal.userId || (member !== null && reaches(member, invite.role))) {
        if (!usable(invite, at)) throw new AppError('INVITE_EXPIRED');
        return { session: summary, role: roleIn(session, principal)! };
      }
      // Not the owner here, so the role by visibility is at most an editor's.
      const byVisibility = member === null ? (roleIn(session, principal) as MemberRole | null) : null;
      const role: MemberRole = byVisibility !== null && reaches(byVisibility, invite.role) ? byVisibility : invite.role;
      if (!(await this.invites.takeUse(invite.id, at))) throw new AppError('INVITE_EXPIRED');
      if (member === null) this.members.checkRoom(session);
      await this.members.change(actorOf(principal), session, principal.userId, role, invite.createdBy);
      return { session: summary, role };
    });
  }
}
