import { createHash } from 'node:crypto';
import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { actorOf, principalScope, type Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { GroupCommit } from '../database/group-commit.js';
import { TransactionHost } from '../database/transaction-host.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import { AppError } from '../errors/app-error.js';
import type { Session } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { ThemesService } from '../themes/themes.service.js';
import type { CreateSessionBody, InstantiateSessionBody, ListSessionsQuery, SaveSessionBody } from './dto/session.dto.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { checkAccess, roleIn } from './session-access.js';
import { metadataTooLarge, sessionTooLarge, type SessionBudget } from './session-budget.js';
import { SessionKeyGenerator } from './session-key.generator.js';
import { SessionKeyStats } from './session-key.stats.js';
import { SessionTypesRegistry } from './session-types.registry.js';
import { toSessionChange, toSessionView } from './session.view.js';
import {
  SessionsRepository,
  type InsertOutcome,
  type KeyClaim,
  type NewSession,
  type PendingSave,
  type SaveOutcome,
  type SessionSave,
} from './sessions.repository.js';
import type { SessionView } from '../contract/session.js';
import { EventBus } from '../events/event-bus.js';
import { Metrics } from '../metrics/metrics.service.js';

/** Enough tries that escalating the key length makes a free key certain long before. */
const MAX_KEY_ATTEMPTS = 32;
const VISIBILITY_RANK: Record<Visibility, number> = { private: 0, readonly: 1, link: 2 };

class IdempotentReplay extends Error {}

export interface Created {
  session: SessionView;
  created: boolean;
}

@Injectable()
export class SessionsService implements OnModuleDestroy {
  /** Creates from every caller of this instance, inserted a tick at a time. */
  private readonly inserts: GroupCommit<NewSession, InsertOutcome>;
  /** Saves from every caller of this instance, applied a tick at a time (one per session per statement). */
  private readonly saves: GroupCommit<PendingSave, SaveOutcome>;

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly idempotency: IdempotencyRepository,
    private readonly keys: SessionKeyGenerator,
    private readonly keyStats: SessionKeyStats,
    private readonly types: SessionTypesRegistry,
    private readonly themes: ThemesService,
    private readonly tx: TransactionHost,
    private readonly events: EventBus,
    @InjectConfig() private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    const batchSize = metrics.histogram({
      name: 'session_write_batch_size',
      help: 'Session creates and saves applied by one group-commit statement, by kind (create, save)',
      labelNames: ['kind'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    });
    this.inserts = new GroupCommit({
      maxBatch: config.GROUP_COMMIT_MAX_BATCH,
      maxWaitMs: config.GROUP_COMMIT_MAX_WAIT_MS,
      keyOf: (session) => session.key,
      applyAll: (sessions) => this.sessions.insertAllIfKeysFree(sessions, this.budget.maxBytes),
      applyOne: (session) => this.insertAlone(session),
      onBatch: (size) => batchSize.observe({ kind: 'create' }, size),
    });
    this.saves = new GroupCommit({
      maxBatch: config.GROUP_COMMIT_MAX_BATCH,
      maxWaitMs: config.GROUP_COMMIT_MAX_WAIT_MS,
      keyOf: (save) => save.id,
      applyAll: (saves) => this.sessions.saveAllIfVersions(saves, this.budget),
      applyOne: async (save) => (await this.sessions.saveAllIfVersions([save], this.budget))[0],
      onBatch: (size) => batchSize.observe({ kind: 'save' }, size),
    });
  }

  /** Applies the creates and saves still waiting for their tick before the process stops. */
  async onModuleDestroy(): Promise<void> {
    await Promise.all([this.inserts.drain(), this.saves.drain()]);
  }

  /** Outside a transaction the insert joins the instance's group commit; inside one it runs alone, as part of it. */
  private async insert(session: NewSession): Promise<InsertOutcome> {
    if (this.tx.active) return this.insertAlone(session);
    const outcome = await this.inserts.submit(session);
    // Its key was bound already (a retry, or a create with the key came first): its
    // transaction decides, a replay, or an expired binding taken over.
    return outcome.bound ? this.insertAlone(session) : outcome;
  }

  /**
   * One insert alone. A keyed one binds its key in the same transaction: a live binding
   * (a create with that key came first) takes the session back, and the create is a replay.
   */
  private insertAlone({ claim, ...session }: NewSession): Promise<InsertOutcome> {
    if (!claim) return this.sessions.insertIfKeyFree(session, this.budget.maxBytes);
    return this.tx.run(async () => {
      const outcome = await this.sessions.insertIfKeyFree(session, this.budget.maxBytes);
      if (outcome.session && !(await this.idempotency.claim(claim.scope, claim.key, claim.requestHash, outcome.session.id))) {
        throw new IdempotentReplay();
      }
      return outcome;
    });
  }

  async create(principal: Principal, body: CreateSessionBody, idempotencyKey?: string): Promise<Created> {
    await this.checkReferences(body.typeSlug, body.themeId);
    if (principal.kind !== 'user' && body.visibility && body.visibility !== 'link') {
      throw AppError.validation([{ field: 'visibility', message: 'sessions created without a user token are always "link"' }]);
    }
    if (!idempotencyKey) {
      // One INSERT is atomic by itself: no transaction round trips on the common path.
      return this.createdNow(await this.insertWithFreshKey(principal, body), principal);
    }
    const scope = principalScope(principal);
    const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
    try {
      // The session and its key binding commit together, or neither does: in one statement
      // (the group commit's), or in one transaction when applied alone.
      const session = await this.insertWithFreshKey(principal, body, { scope, key: idempotencyKey, requestHash });
      return this.createdNow(session, principal);
    } catch (error) {
      if (!(error instanceof IdempotentReplay)) throw error;
      return { session: await this.replay(principal, scope, idempotencyKey, requestHash), created: false };
    }
  }

  /** Creates the session under a key the client already holds, exactly once under any concurrency. */
  async instantiate(principal: Principal, key: string, body: InstantiateSessionBody): Promise<Created> {
    await this.checkReferences(body.typeSlug, body.themeId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const row = this.fitted(await this.insert({ ...this.newSession(principal, body), key }));
      if (row) return this.createdNow(row, principal);
      const existing = await this.sessions.findByKey(key);
      if (existing) return { session: viewFor(checkAccess(existing, principal, 'read'), principal), created: false };
      // Deleted between our insert and our read: the key is free again, try again.
    }
    throw new AppError('SERVICE_UNAVAILABLE', 'This key is being created and deleted concurrently; retry.');
  }

  /** `undoOf`: the save inverts that change (an undo or a redo). */
  async save(principal: Principal, key: string, version: number, body: SaveSessionBody, undoOf?: number): Promise<SessionView> {
    const current = checkAccess(await this.sessions.findByKey(key), principal, 'write');
    const action = body.visibility !== undefined && body.visibility !== current.visibility ? 'own' : 'write';
    checkAccess(current, principal, action);
    await this.checkTheme(body.themeId);
    const at = new Date();
    const actor = actorOf(principal);
    const { version: _version, ...changes } = body;
    const save: SessionSave = { ...changes, actor, at, undoOf };
    const change = toSessionChange({ ...save, version: version + 1, metadata: { ...save.metadata, lastModified: at.toISOString() } });
    const pending: PendingSave = { id: current.id, version, save, change, access: { caller: principal, action } };
    // Outside a transaction the save joins the instance's group commit; inside one it runs alone, as part of it.
    const outcome = this.tx.active ? (await this.sessions.saveAllIfVersions([pending], this.budget))[0] : await this.saves.submit(pending);
    if (!outcome.saved) {
      const { miss } = outcome;
      // The role changed since the first check: the locked row's answer, with its reason.
      if (miss && !miss.allowed) checkAccess(await this.sessions.findById(current.id), principal, action);
      if (miss && miss.version === version) {
        if (miss.metadataBytes > this.budget.maxMetadataBytes) throw metadataTooLarge(miss.metadataBytes, this.budget.maxMetadataBytes);
        throw sessionTooLarge(miss.storedBytes, miss.delta, this.budget.maxBytes);
      }
      const latest = checkAccess(await this.sessions.findById(current.id), principal, 'read');
      throw new AppError('VERSION_CONFLICT', `The session is at version ${latest.version}, not ${version}.`, {
        current: viewFor(latest, principal),
      });
    }
    const { saved } = outcome;
    const view = viewFor(saved, principal);
    await this.events.afterCommit('change.committed', {
      sessionKey: key,
      sessionId: saved.id,
      visibility: saved.visibility,
      change: {
        seq: view.seq,
        kind: 'session.updated',
        session: change,
        actor,
        at: at.toISOString(),
        ...(undoOf === undefined ? {} : { undoOf }),
      },
      ownerId: saved.ownerId,
      memberRoles: saved.memberRoles,
      visibilityLowered: VISIBILITY_RANK[saved.visibility] < VISIBILITY_RANK[current.visibility],
    });
    return view;
  }

  /** The session as the caller sees it, read fresh (after a change of its own). */
  async view(principal: Principal, key: string): Promise<SessionView> {
    return viewFor(checkAccess(await this.sessions.findByKey(key), principal, 'read'), principal);
  }

  async delete(principal: Principal, key: string): Promise<void> {
    const session = checkAccess(await this.sessions.findByKey(key), principal, 'delete');
    if (!(await this.sessions.delete(session.id))) throw new AppError('SESSION_NOT_FOUND');
    await this.events.afterCommit('session.deleted', {
      key,
      actor: actorOf(principal),
      at: new Date().toISOString(),
    });
  }

  async list(principal: Principal, query: ListSessionsQuery): Promise<Page<SessionView>> {
    if (principal.kind === 'anonymous') throw new AppError('AUTH_REQUIRED', 'Listing sessions needs a user token.');
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const userId = principal.kind === 'user' ? principal.userId : undefined;
    const filter = query.member ? { memberId: userId } : { ownerId: userId };
    // An operator is a member of no session: asking for memberships with the admin token is a mistake to name, not an empty list.
    if (query.member && userId === undefined)
      throw new AppError('VALIDATION_FAILED', 'member=true lists the sessions a user is a member of; the admin token names no user.');
    const rows = await this.sessions.list({ ...filter, typeSlug: query.typeSlug }, query.limit + 1, after);
    return toPage(rows, query.limit, (row) => viewFor(row, principal), encodeCursor);
  }

  private async insertWithFreshKey(principal: Principal, body: CreateSessionBody, claim?: KeyClaim): Promise<Session> {
    const fields = { ...this.newSession(principal, body), visibility: body.visibility ?? 'link', claim };
    for (let attempt = 0; attempt < MAX_KEY_ATTEMPTS; attempt++) {
      const row = this.fitted(await this.insert({ ...fields, key: await this.keys.candidate(attempt) }));
      if (row) return row;
      this.keyStats.collisionRetried();
    }
    throw new Error(`no free session key after ${MAX_KEY_ATTEMPTS} attempts`);
  }

  private get budget(): SessionBudget {
    return { maxBytes: this.config.SESSION_MAX_BYTES, maxMetadataBytes: this.config.SESSION_METADATA_MAX_BYTES };
  }

  /** The inserted session, null when its key was taken, or SESSION_TOO_LARGE. */
  private fitted(outcome: InsertOutcome): Session | null {
    if (outcome.session) return outcome.session;
    if (outcome.storedBytes > this.budget.maxBytes) throw sessionTooLarge(0, outcome.storedBytes, this.budget.maxBytes);
    return null;
  }

  private newSession(principal: Principal, body: InstantiateSessionBody) {
    return {
      typeSlug: body.typeSlug,
      title: body.title ?? '',
      themeId: body.themeId ?? null,
      ownerId: principal.kind === 'user' ? principal.userId : null,
      visibility: 'link' as Visibility,
      state: body.state ?? {},
      createdAt: new Date(),
    };
  }

  private createdNow(row: Session, principal: Principal): Created {
    this.keys.taken(row.key);
    return { session: viewFor(row, principal), created: true };
  }

  private async replay(principal: Principal, scope: string, key: string, requestHash: string): Promise<SessionView> {
    const binding = await this.idempotency.find(scope, key);
    if (binding && binding.requestHash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
    const row = binding && (await this.sessions.findById(binding.sessionId));
    if (!row) throw new AppError('SESSION_NOT_FOUND', 'The session created with this Idempotency-Key was deleted.');
    return viewFor(row, principal);
  }

  private async checkReferences(typeSlug: string, themeId: string | null | undefined): Promise<void> {
    if (!this.types.has(typeSlug)) {
      throw new AppError(
        'INVALID_SESSION_TYPE',
        `"${typeSlug.slice(0, 100)}" is not a session type; known: ${this.types.list().join(', ')}.`,
      );
    }
    await this.checkTheme(themeId);
  }

  private async checkTheme(themeId: string | null | undefined): Promise<void> {
    if (themeId && !(await this.themes.exists(themeId))) throw new AppError('INVALID_THEME');
  }
}

/** The session as `principal` sees it, with their role (a caller who got the row may read it). */
export const viewFor = (row: Session, principal: Principal): SessionView => toSessionView(row, roleIn(row, principal) ?? 'viewer');
