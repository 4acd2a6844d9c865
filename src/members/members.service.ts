import { Injectable } from '@nestjs/common';
import { actorOf, type Principal } from '../common/principal.js';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { EventBus } from '../events/event-bus.js';
import type { Actor } from '../contract/actor.js';
import type { MemberChange } from '../contract/change.js';
import type { SessionView } from '../contract/session.js';
import { checkAccess, memberRoleOf, type MemberRole, type Role } from '../sessions/session-access.js';
import { SessionAccess } from '../sessions/session-access.service.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { MembersRepository, type LockedSession, type MemberRow } from './members.repository.js';

export interface MemberView {
  userId: string;
  displayName: string;
  role: Role;
  addedAt: string;
  addedBy: string | null;
}

const toMemberView = (row: MemberRow): MemberView => ({
  userId: row.userId,
  displayName: row.displayName,
  role: row.role as Role,
  addedAt: row.addedAt.toISOString(),
  addedBy: row.addedBy,
});

/**
 * Members of a session and their roles. Every change runs under the session's row lock,
 * takes the next seq, and is announced as a change once committed; the role it sets is on
 * the session row, so no write of a member is accepted past the commit that lowered them.
 */
@Injectable()
export class MembersService {
  constructor(
    private readonly access: SessionAccess,
    private readonly members: MembersRepository,
    private readonly sessions: SessionsService,
    private readonly tx: TransactionHost,
    private readonly events: EventBus,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** The owner first, then the members in the order they were added. */
  async list(principal: Principal, key: string, limit: number, cursor?: string): Promise<Page<MemberView>> {
    const { id } = await this.access.require(principal, key, 'read');
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const owner = after ? null : await this.members.owner(id);
    const take = owner ? limit - 1 : limit;
    const rows = take > 0 ? await this.members.list(id, take + 1, after && { addedAt: after.createdAt, userId: after.id }) : [];
    const page = rows.slice(0, take);
    const more = rows.length > take || (take === 0 && (await this.members.list(id, 1)).length > 0);
    const last = page.at(-1);
    return {
      items: [...(owner ? [owner] : []), ...page].map(toMemberView),
      nextCursor: more
        ? encodeCursor(
            last ? { createdAt: last.addedAt, id: last.userId } : { createdAt: new Date(0), id: '00000000-0000-0000-0000-000000000000' },
          )
        : null,
    };
  }

  /** Adds the member (true) or sets their role (false). */
  async put(principal: Principal, key: string, userId: string, role: MemberRole): Promise<{ member: MemberView; created: boolean }> {
    const { id } = await this.access.require(principal, key, 'own');
    const created = await this.tx.run(async () => {
      const session = await this.locked(id, principal, 'own');
      if (session.ownerId === userId) throw new AppError('OWNER_ROLE_FIXED');
      if (!(await this.members.userExists(userId))) throw new AppError('USER_NOT_FOUND');
      const before = memberRoleOf(session.memberRoles, userId);
      if (before === null) this.checkRoom(session);
      if (before !== role)
        await this.change(actorOf(principal), session, userId, role, principal.kind === 'user' ? principal.userId : null);
      return before === null;
    });
    const member = await this.members.member(id, userId);
    if (!member) throw new AppError('MEMBER_NOT_FOUND'); // removed again since
    return { member: toMemberView(member), created };
  }

  /**
   * Removes a member: the owner may remove anyone, a member themselves. The owner is no
   * member and cannot be removed, not even by themselves: ownership passes first.
   */
  async remove(principal: Principal, key: string, userId: string): Promise<void> {
    const self = principal.kind === 'user' && principal.userId === userId;
    const { id } = await this.access.require(principal, key, self ? 'read' : 'own');
    await this.tx.run(async () => {
      const session = await this.locked(id, principal, self ? 'read' : 'own');
      if (session.ownerId === userId)
        throw new AppError('OWNER_ROLE_FIXED', 'The owner cannot leave their own session; pass ownership to a member first.');
      if (memberRoleOf(session.memberRoles, userId) === null) throw new AppError('MEMBER_NOT_FOUND');
      await this.change(actorOf(principal), session, userId, null, null);
    });
  }

  /**
   * A deleted user's membership: their role leaves the session row as a `member.removed`
   * change, like a removal by the owner (their `session_members` row went with the user).
   */
  async dropDeletedUser(sessionId: string, userId: string, actor: Actor): Promise<void> {
    await this.tx.run(async () => {
      const session = await this.members.lock(sessionId);
      if (session && memberRoleOf(session.memberRoles, userId) !== null) await this.change(actor, session, userId, null, null);
    });
  }

  /** Ownership passes to a member; the old owner becomes an editor. */
  async transfer(principal: Principal, key: string, userId: string): Promise<SessionView> {
    const { id } = await this.access.require(principal, key, 'own');
    await this.tx.run(async () => {
      const session = await this.locked(id, principal, 'own');
      if (memberRoleOf(session.memberRoles, userId) === null) throw new AppError('NOT_A_MEMBER');
      const previous = session.ownerId;
      await this.members.setOwner(id, userId);
      const actor = actorOf(principal);
      const after = await this.change(actor, { ...session, ownerId: userId }, userId, null, null, 'owner');
      if (previous) await this.change(actor, { ...session, ownerId: userId, memberRoles: after }, previous, 'editor', actor.userId);
    });
    return this.sessions.view(principal, key);
  }

  /**
   * Inside a transaction, with the session locked: sets `userId`'s member role (null: none),
   * logs and announces it. `logged` is the role the change names when it is not the member
   * role (`owner`). Returns the members after it.
   */
  async change(
    actor: Actor,
    session: LockedSession,
    userId: string,
    role: MemberRole | null,
    addedBy: string | null,
    logged: Role | null = role,
  ): Promise<Record<string, string>> {
    const at = new Date();
    const member: MemberChange = { userId, role: logged };
    const kind = logged === null ? 'member.removed' : 'member.updated';
    const changed = await this.members.apply(session.id, userId, role, { kind, member, actor, at, addedBy });
    await this.events.afterCommit('change.committed', {
      sessionKey: session.key,
      sessionId: session.id,
      visibility: changed.visibility,
      ownerId: changed.ownerId,
      memberRoles: changed.memberRoles,
      change: { seq: changed.seq, kind, member, actor, at: at.toISOString() },
      rolesChanged: [userId],
    });
    return changed.memberRoles;
  }

  /** Inside a transaction: locks the session and checks the caller again on the locked row. */
  async locked(sessionId: string, principal: Principal, action: 'read' | 'own'): Promise<LockedSession> {
    return checkAccess(await this.members.lock(sessionId), principal, action);
  }

  /** Inside a transaction: locks an invite's session (deleted since: the invite went with it). */
  async lockedForInvite(sessionId: string): Promise<LockedSession> {
    const session = await this.members.lock(sessionId);
    if (!session) throw new AppError('INVITE_NOT_FOUND');
    return session;
  }

  /** A new member must fit under SESSION_MEMBER_LIMIT. */
  checkRoom(session: LockedSession): void {
    if (Object.keys(session.memberRoles).length >= this.config.SESSION_MEMBER_LIMIT) {
      throw new AppError('MEMBER_LIMIT_REACHED', `A session has at most ${this.config.SESSION_MEMBER_LIMIT} members.`);
    }
  }
}
