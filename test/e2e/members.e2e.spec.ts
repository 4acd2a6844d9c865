import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { ADMIN_TOKEN, RELAXED_LIMITS, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { ack, connect, record } from '../helpers/sockets.js';
import { openFeed } from '../helpers/sse.js';
import { currentRun } from '../helpers/test-environment.js';

type User = Awaited<ReturnType<typeof createUser>>;
type Role = 'owner' | 'editor' | 'viewer' | 'none';

describe('members, roles and invitations', () => {
  let a: TestApp;
  let b: TestApp;
  let owner: User;
  let alice: User;
  let bob: User;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    // The webhook row of the role table names a loopback URL, which creation refuses unless allowed.
    const env = { REDIS_PREFIX: `${currentRun().redisPrefix}members-spec:`, WEBHOOK_ALLOW_PRIVATE: 'true' };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    [owner, alice, bob] = await Promise.all([
      createUser({ displayName: 'Owner' }),
      createUser({ displayName: 'Alice' }),
      createUser({ displayName: 'Bob' }),
    ]);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const open = async (app: TestApp, token?: string) => {
    const socket = await connect(app, token ? { token } : {});
    sockets.push(socket);
    return socket;
  };
  const newSession = async (visibility = 'private', token = owner.token) => {
    const res = await a.request('POST', '/api/sessions', { body: { typeSlug: 'document', visibility }, token });
    expect(res.status).toBe(201);
    return res.body.key as string;
  };
  const addMember = async (key: string, user: User, role: 'editor' | 'viewer') =>
    a.request('PUT', `/api/sessions/${key}/members/${user.user.id}`, { body: { role }, token: owner.token });
  const newBlock = async (key: string) =>
    (await a.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { t: 'x' } }, token: owner.token })).body
      .id as string;

  describe('every role against every session route and socket event', () => {
    /** A user each case makes a member (or the target of a member route). */
    let carol: User;
    /** Each caller and the session it calls on: the role the rule gives it there. */
    const callers: Array<{ name: string; role: Role; setup: () => Promise<{ key: string; token?: string }> }> = [
      { name: 'owner', role: 'owner', setup: async () => ({ key: await newSession(), token: owner.token }) },
      {
        name: 'editor member',
        role: 'editor',
        setup: async () => {
          const key = await newSession();
          await addMember(key, alice, 'editor');
          return { key, token: alice.token };
        },
      },
      {
        name: 'viewer member',
        role: 'viewer',
        setup: async () => {
          const key = await newSession();
          await addMember(key, alice, 'viewer');
          return { key, token: alice.token };
        },
      },
      { name: 'link holder', role: 'editor', setup: async () => ({ key: await newSession('link'), token: bob.token }) },
      { name: 'anonymous link holder', role: 'editor', setup: async () => ({ key: await newSession('link') }) },
      { name: 'readonly-link holder', role: 'viewer', setup: async () => ({ key: await newSession('readonly'), token: bob.token }) },
      { name: 'stranger on a private session', role: 'none', setup: async () => ({ key: await newSession(), token: bob.token }) },
      { name: 'operator', role: 'owner', setup: async () => ({ key: await newSession(), token: ADMIN_TOKEN }) },
    ];

    /** What each case's session holds before the routes run: blocks, and an owner's snapshot, export job and invite. */
    interface Fixture {
      blocks: string[];
      snapshotId: string;
      jobId: string;
      inviteId: string;
    }
    /** A route, what it takes, and the answer for each role (status, or [status, code] for a refusal). */
    type Outcome = number | [number, string];
    const NF: Outcome = [404, 'SESSION_NOT_FOUND'];
    const RO: Outcome = [403, 'READ_ONLY'];
    const NO: Outcome = [403, 'NOT_SESSION_OWNER'];
    const AUTH: Outcome = [401, 'AUTH_REQUIRED'];
    // Undo and redo are a user's own changes: the operator token names no user.
    const READERS = { owner: 200, editor: 200, viewer: 200, none: NF } as const;
    const routes: Array<{
      name: string;
      call: (key: string, token: string | undefined, fixture: Fixture) => Promise<{ status: number; body: any }>;
      outcome: Record<Role, Outcome>;
      /** Where a caller's kind (anonymous, operator) decides before its role does. */
      byCaller?: Record<string, Outcome>;
    }> = [
      { name: 'GET session', call: (k, t) => a.request('GET', `/api/sessions/${k}`, { token: t }), outcome: READERS },
      { name: 'GET session ?atSeq', call: (k, t) => b.request('GET', `/api/sessions/${k}?atSeq=1`, { token: t }), outcome: READERS },
      { name: 'GET diff', call: (k, t) => a.request('GET', `/api/sessions/${k}/diff?from=1&to=2`, { token: t }), outcome: READERS },
      { name: 'GET blocks', call: (k, t) => b.request('GET', `/api/sessions/${k}/blocks`, { token: t }), outcome: READERS },
      {
        name: 'GET block history',
        call: (k, t, { blocks: [id] }) => a.request('GET', `/api/sessions/${k}/blocks/${id}/history`, { token: t }),
        outcome: READERS,
      },
      { name: 'GET changes', call: (k, t) => a.request('GET', `/api/sessions/${k}/changes?since=0`, { token: t }), outcome: READERS },
      {
        name: 'GET events (SSE)',
        call: async (k, t) => {
          const feed = await openFeed(b.url, `/api/sessions/${k}/events?since=0`, { token: t });
          feed.close();
          return { status: feed.status, body: feed.problem };
        },
        outcome: READERS,
      },
      { name: 'GET members', call: (k, t) => b.request('GET', `/api/sessions/${k}/members`, { token: t }), outcome: READERS },
      { name: 'GET snapshots', call: (k, t) => a.request('GET', `/api/sessions/${k}/snapshots`, { token: t }), outcome: READERS },
      {
        name: 'PUT session (open)',
        call: (k, t) => b.request('PUT', `/api/sessions/${k}`, { body: { typeSlug: 'document' }, token: t }),
        outcome: READERS,
      },
      {
        name: 'POST block',
        call: (k, t) => b.request('POST', `/api/sessions/${k}/blocks`, { body: { type: 'text', content: {} }, token: t }),
        outcome: { owner: 201, editor: 201, viewer: RO, none: NF },
      },
      {
        name: 'POST blocks/batch',
        call: (k, t) =>
          a.request('POST', `/api/sessions/${k}/blocks/batch`, { body: { ops: [{ op: 'create', type: 'text', content: {} }] }, token: t }),
        outcome: { owner: 200, editor: 200, viewer: RO, none: NF },
      },
      {
        name: 'PATCH block',
        call: (k, t, { blocks: [id] }) =>
          a.request('PATCH', `/api/sessions/${k}/blocks/${id}`, { body: { version: 1, content: { t: 'y' } }, token: t }),
        outcome: { owner: 200, editor: 200, viewer: RO, none: NF },
      },
      {
        name: 'POST block move',
        call: (k, t, { blocks: [, , id, anchor] }) =>
          b.request('POST', `/api/sessions/${k}/blocks/${id}/move`, { body: { version: 1, afterId: anchor }, token: t }),
        outcome: { owner: 200, editor: 200, viewer: RO, none: NF },
      },
      {
        name: 'DELETE block',
        call: (k, t, { blocks: [, id] }) => b.request('DELETE', `/api/sessions/${k}/blocks/${id}?version=1`, { token: t }),
        outcome: { owner: 204, editor: 204, viewer: RO, none: NF },
      },
      {
        name: 'PATCH session (title)',
        call: (k, t) => a.request('PATCH', `/api/sessions/${k}`, { body: { title: 'T' }, headers: { 'if-match': '"1"' }, token: t }),
        outcome: { owner: 200, editor: 200, viewer: RO, none: NF },
      },
      {
        name: 'POST snapshot',
        call: (k, t) => a.request('POST', `/api/sessions/${k}/snapshots`, { body: {}, token: t }),
        outcome: { owner: 201, editor: 201, viewer: RO, none: NF },
      },
      {
        name: 'POST snapshot restore',
        call: (k, t, { snapshotId }) => b.request('POST', `/api/sessions/${k}/snapshots/${snapshotId}/restore`, { token: t }),
        outcome: { owner: 200, editor: 200, viewer: RO, none: NF },
      },
      {
        name: 'POST undo',
        call: (k, t) => a.request('POST', `/api/sessions/${k}/undo`, { token: t }),
        outcome: { owner: 200, editor: 200, viewer: RO, none: NF },
        byCaller: { 'anonymous link holder': AUTH, operator: [403, 'FORBIDDEN'] },
      },
      {
        name: 'POST redo',
        call: (k, t) => b.request('POST', `/api/sessions/${k}/redo`, { token: t }),
        outcome: { owner: 200, editor: 200, viewer: RO, none: NF },
        byCaller: { 'anonymous link holder': AUTH, operator: [403, 'FORBIDDEN'] },
      },
      {
        name: 'POST exports',
        call: (k, t) => a.request('POST', `/api/sessions/${k}/exports`, { body: { format: 'json' }, token: t }),
        outcome: { owner: 202, editor: 202, viewer: 202, none: NF },
      },
      {
        name: 'POST generate',
        call: (k, t) => b.request('POST', `/api/sessions/${k}/generate`, { body: { prompt: 'Agenda' }, token: t }),
        outcome: { owner: 202, editor: 202, viewer: RO, none: NF },
      },
      {
        name: 'POST think',
        call: (k, t) => a.request('POST', `/api/sessions/${k}/think`, { body: { goal: 'Agenda' }, token: t }),
        outcome: { owner: 202, editor: 202, viewer: RO, none: NF },
      },
      {
        name: 'POST images',
        call: (k, t) => b.request('POST', `/api/sessions/${k}/images`, { body: { prompt: 'A kite' }, token: t }),
        outcome: { owner: 202, editor: 202, viewer: RO, none: NF },
      },
      {
        name: "GET the owner's job",
        call: (_k, t, { jobId }) => a.request('GET', `/api/jobs/${jobId}`, { token: t }),
        outcome: { ...READERS, none: [404, 'JOB_NOT_FOUND'] },
      },
      {
        name: 'PUT member',
        call: (k, t) => a.request('PUT', `/api/sessions/${k}/members/${carol.user.id}`, { body: { role: 'viewer' }, token: t }),
        outcome: { owner: 201, editor: NO, viewer: NO, none: NF },
      },
      {
        name: 'POST invite',
        call: (k, t) => b.request('POST', `/api/sessions/${k}/invites`, { body: { role: 'viewer' }, token: t }),
        outcome: { owner: 201, editor: NO, viewer: NO, none: NF },
      },
      {
        name: 'GET invites',
        call: (k, t) => a.request('GET', `/api/sessions/${k}/invites`, { token: t }),
        outcome: { owner: 200, editor: NO, viewer: NO, none: NF },
      },
      {
        name: 'DELETE invite',
        call: (k, t, { inviteId }) => b.request('DELETE', `/api/sessions/${k}/invites/${inviteId}`, { token: t }),
        outcome: { owner: 204, editor: NO, viewer: NO, none: NF },
      },
      {
        // A session's webhook is its owner's: whoever else may read it is told no such session, so keys cannot be probed.
        name: 'POST webhook for the session',
        call: (k, t) =>
          a.request('POST', '/api/webhooks', { body: { url: 'http://127.0.0.1:9/hook', events: ['change'], sessionKey: k }, token: t }),
        outcome: { owner: 201, editor: NF, viewer: NF, none: NF },
        byCaller: { 'anonymous link holder': AUTH },
      },
      {
        name: 'PATCH session (visibility)',
        call: async (k, t) => {
          const { version } = (await a.request('GET', `/api/sessions/${k}`, { token: ADMIN_TOKEN })).body;
          return a.request('PATCH', `/api/sessions/${k}`, { body: { version, visibility: 'readonly' }, token: t });
        },
        outcome: { owner: 200, editor: NO, viewer: RO, none: NF },
      },
      {
        name: 'POST owner',
        call: async (k, t) => {
          const before = (await a.request('GET', `/api/sessions/${k}`, { token: ADMIN_TOKEN })).body.ownerId as string;
          const res = await a.request('POST', `/api/sessions/${k}/owner`, { body: { userId: carol.user.id }, token: t });
          // Handed back, so the routes after this one meet the caller in the same role.
          if (res.status === 200) await a.request('POST', `/api/sessions/${k}/owner`, { body: { userId: before }, token: carol.token });
          return res;
        },
        outcome: { owner: 200, editor: NO, viewer: NO, none: NF },
      },
      {
        name: 'DELETE another member',
        call: (k, t) => b.request('DELETE', `/api/sessions/${k}/members/${carol.user.id}`, { token: t }),
        outcome: { owner: 204, editor: NO, viewer: NO, none: NF },
      },
      {
        name: 'DELETE session',
        call: (k, t) => b.request('DELETE', `/api/sessions/${k}`, { token: t }),
        outcome: { owner: 204, editor: NO, viewer: NO, none: NF },
      },
    ];
    const socketEvents: Array<{
      name: string;
      payload: (key: string, blocks: string[]) => unknown;
      least: 'none' | 'viewer' | 'editor';
      /** The refusal when the caller cannot even read the session, if not SESSION_NOT_FOUND. */
      hidden?: string;
      byCaller?: Record<string, string>;
    }> = [
      { name: 'session.join', payload: (key) => ({ key }), least: 'viewer' },
      { name: 'block.create', payload: (key) => ({ key, type: 'text', content: {} }), least: 'editor' },
      { name: 'block.update', payload: (key, [id]) => ({ key, id, version: 1, content: { s: 1 } }), least: 'editor' },
      { name: 'block.move', payload: (key, [anchor, , id]) => ({ key, id, version: 1, afterId: anchor }), least: 'editor' },
      { name: 'block.delete', payload: (key, [, id]) => ({ key, id, version: 1 }), least: 'editor' },
      // Presence is for those in the room: a caller whose join was refused is told to join first.
      {
        name: 'presence.update',
        payload: (key, [id]) => ({ key, cursor: { blockId: id, offset: 0 } }),
        least: 'viewer',
        hidden: 'VALIDATION_FAILED',
      },
      {
        name: 'session.undo',
        payload: (key) => ({ key }),
        least: 'editor',
        byCaller: { 'anonymous link holder': 'AUTH_REQUIRED', operator: 'FORBIDDEN' },
      },
      {
        name: 'session.redo',
        payload: (key) => ({ key }),
        least: 'editor',
        byCaller: { 'anonymous link holder': 'AUTH_REQUIRED', operator: 'FORBIDDEN' },
      },
      { name: 'session.leave', payload: (key) => ({ key }), least: 'none' },
    ];
    const rank = { none: 0, viewer: 1, editor: 2, owner: 3 };

    it.each(callers)('$name', async ({ name, role, setup }) => {
      carol = await createUser({ displayName: 'Carol' });
      const { key, token } = await setup();
      // POST owner needs its target to be a member; the PUT member row makes Carol one when it succeeds.
      if (role !== 'owner') await addMember(key, carol, 'viewer');
      const blocks = [await newBlock(key), await newBlock(key), await newBlock(key), await newBlock(key)];
      const asOwner = { token: owner.token };
      const fixture: Fixture = {
        blocks,
        snapshotId: (await a.request('POST', `/api/sessions/${key}/snapshots`, { body: {}, ...asOwner })).body.id,
        jobId: (await a.request('POST', `/api/sessions/${key}/exports`, { body: { format: 'json' }, ...asOwner })).body.jobId,
        inviteId: (await a.request('POST', `/api/sessions/${key}/invites`, { body: { role: 'viewer' }, ...asOwner })).body.id,
      };
      for (const route of routes) {
        const res = await route.call(key, token, fixture);
        const want = route.byCaller?.[name] ?? route.outcome[role];
        const got = typeof want === 'number' ? res.status : [res.status, res.body?.code];
        expect({ route: route.name, got }).toEqual({ route: route.name, got: want });
        if (route.name === 'GET session' && role !== 'none') expect(res.body.role).toBe(role);
        if (route.name === 'PATCH session (title)' && role !== 'none' && role !== 'viewer') expect(res.body.role).toBe(role);
      }

      const { key: socketKey } = await setup();
      const socketBlocks = [await newBlock(socketKey), await newBlock(socketKey), await newBlock(socketKey)];
      const socket = await open(b, token);
      for (const event of socketEvents) {
        const answer = await ack(socket, event.name, event.payload(socketKey, socketBlocks));
        const refusal = event.byCaller?.[name] ?? (role === 'none' ? (event.hidden ?? 'SESSION_NOT_FOUND') : 'READ_ONLY');
        const allowed = !event.byCaller?.[name] && rank[role] >= rank[event.least];
        expect({ event: event.name, ok: answer.ok, code: answer.code }).toEqual({
          event: event.name,
          ok: allowed,
          code: allowed ? undefined : refusal,
        });
      }
    });
  });

  it('puts the caller’s role on every Session view, and lists the sessions one is a member of', async () => {
    const created = await a.request('POST', '/api/sessions', { body: { typeSlug: 'document', visibility: 'private' }, token: owner.token });
    expect(created.body.role).toBe('owner');
    const key = created.body.key as string;
    expect((await a.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document' }, token: owner.token })).body.role).toBe(
      'owner',
    );
    const anonymous = await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' } });
    expect(anonymous.body.role).toBe('editor');
    expect((await addMember(key, alice, 'viewer')).status).toBe(201);
    expect((await addMember(key, alice, 'viewer')).status).toBe(200);
    // The cached GET body is the same for everyone; the role is each caller's.
    expect((await a.request('GET', `/api/sessions/${key}`, { token: alice.token })).body.role).toBe('viewer');
    expect((await a.request('GET', `/api/sessions/${key}`, { token: owner.token })).body.role).toBe('owner');
    expect((await b.request('GET', `/api/sessions/${key}`, { token: ADMIN_TOKEN })).body.role).toBe('owner');
    const put = await a.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document' }, token: alice.token });
    expect(put).toMatchObject({ status: 200, body: { role: 'viewer' } });
    const mine = await a.request('GET', '/api/sessions?member=true', { token: alice.token });
    expect(mine.body.items.map((s: any) => [s.key, s.role])).toContainEqual([key, 'viewer']);
    const owned = await a.request('GET', '/api/sessions', { token: owner.token });
    expect(owned.body.items.find((s: any) => s.key === key).role).toBe('owner');
    expect((await a.request('GET', '/api/sessions?member=true', { token: bob.token })).body.items).toEqual([]);
    // An operator is a member of no session: the question is refused, not answered with an empty list.
    expect((await a.request('GET', '/api/sessions?member=true', { token: ADMIN_TOKEN })).body).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
    });
    expect(
      (await a.request('PUT', `/api/sessions/${key}/members/${owner.user.id}`, { body: { role: 'viewer' }, token: owner.token })).body.code,
    ).toBe('OWNER_ROLE_FIXED');
  });

  it('lists members owner first with pagination, validates input, and lets members leave', async () => {
    const key = await newSession();
    const users = await Promise.all([1, 2, 3].map((i) => createUser({ displayName: `M${i}` })));
    for (const u of users) expect((await addMember(key, u, 'editor')).status).toBe(201);
    const first = await a.request('GET', `/api/sessions/${key}/members?limit=2`, { token: users[0].token });
    expect(first.body.items.map((m: any) => m.role)).toEqual(['owner', 'editor']);
    expect(first.body.items[0]).toMatchObject({ userId: owner.user.id, displayName: 'Owner', addedBy: null });
    expect(first.body.items[1]).toMatchObject({ userId: users[0].user.id, addedBy: owner.user.id });
    const rest = await a.request('GET', `/api/sessions/${key}/members?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect(rest.body.items.map((m: any) => m.userId)).toEqual([users[1].user.id, users[2].user.id]);
    expect(rest.body.nextCursor).toBeNull();

    expect(
      (await a.request('PUT', `/api/sessions/${key}/members/not-a-uuid`, { body: { role: 'editor' }, token: owner.token })).body.code,
    ).toBe('VALIDATION_FAILED');
    expect(
      (await a.request('PUT', `/api/sessions/${key}/members/${users[0].user.id}`, { body: { role: 'owner' }, token: owner.token })).status,
    ).toBe(400);
    expect(
      (await a.request('PUT', `/api/sessions/${key}/members/${users[0].user.id}`, { body: { role: 'viewer', x: 1 }, token: owner.token }))
        .status,
    ).toBe(400);
    const ghost = '00000000-0000-4000-8000-000000000000';
    expect(
      (await a.request('PUT', `/api/sessions/${key}/members/${ghost}`, { body: { role: 'editor' }, token: owner.token })).body,
    ).toMatchObject({
      status: 404,
      code: 'USER_NOT_FOUND',
    });
    // A member may leave; another member may not remove them.
    expect((await a.request('DELETE', `/api/sessions/${key}/members/${users[1].user.id}`, { token: users[0].token })).body.code).toBe(
      'NOT_SESSION_OWNER',
    );
    expect((await a.request('DELETE', `/api/sessions/${key}/members/${users[1].user.id}`, { token: users[1].token })).status).toBe(204);
    expect((await a.request('GET', `/api/sessions/${key}`, { token: users[1].token })).status).toBe(404);
    expect((await a.request('DELETE', `/api/sessions/${key}/members/${users[1].user.id}`, { token: owner.token })).body.code).toBe(
      'MEMBER_NOT_FOUND',
    );
    // The owner is no member: they cannot leave (nor an operator remove them) until ownership has passed.
    for (const token of [owner.token, ADMIN_TOKEN]) {
      expect((await a.request('DELETE', `/api/sessions/${key}/members/${owner.user.id}`, { token })).body).toMatchObject({
        status: 422,
        code: 'OWNER_ROLE_FIXED',
      });
    }
    expect((await a.request('GET', `/api/sessions/${key}`, { token: owner.token })).body.role).toBe('owner');
    const changes = await a.request('GET', `/api/sessions/${key}/changes?since=0`, { token: owner.token });
    expect(changes.body.items.map((c: any) => [c.kind, c.member])).toEqual([
      ...users.map((u) => ['member.updated', { userId: u.user.id, role: 'editor' }]),
      ['member.removed', { userId: users[1].user.id, role: null }],
    ]);
  });

  it('passes ownership to a member; the old owner becomes an editor', async () => {
    const key = await newSession();
    expect((await a.request('POST', `/api/sessions/${key}/owner`, { body: { userId: alice.user.id }, token: owner.token })).body.code).toBe(
      'NOT_A_MEMBER',
    );
    await addMember(key, alice, 'viewer');
    const moved = await a.request('POST', `/api/sessions/${key}/owner`, { body: { userId: alice.user.id }, token: owner.token });
    expect(moved).toMatchObject({ status: 200, body: { key, ownerId: alice.user.id, role: 'editor' } });
    expect((await b.request('GET', `/api/sessions/${key}`, { token: alice.token })).body).toMatchObject({
      role: 'owner',
      ownerId: alice.user.id,
    });
    const members = await a.request('GET', `/api/sessions/${key}/members`, { token: owner.token });
    expect(members.body.items.map((m: any) => [m.userId, m.role])).toEqual([
      [alice.user.id, 'owner'],
      [owner.user.id, 'editor'],
    ]);
    expect(
      (await a.request('PATCH', `/api/sessions/${key}`, { body: { version: 1, visibility: 'link' }, token: owner.token })).body.code,
    ).toBe('NOT_SESSION_OWNER');
    expect((await a.request('DELETE', `/api/sessions/${key}/members/${owner.user.id}`, { token: alice.token })).status).toBe(204);
    expect((await a.request('GET', `/api/sessions/${key}`, { token: owner.token })).status).toBe(404);
  });

  describe('invitations', () => {
    const invite = (key: string, body: Record<string, unknown>, token = owner.token) =>
      a.request('POST', `/api/sessions/${key}/invites`, { body, token });
    const accept = (token: string, user: User, app = a) => app.request('POST', `/api/invites/${token}/accept`, { token: user.token });

    it('creates (token shown once, stored hashed), lists without tokens, accepts, and revokes', async () => {
      const key = await newSession();
      const created = await invite(key, { role: 'editor', maxUses: 5 });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ role: 'editor', maxUses: 5, uses: 0 });
      expect(created.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.body.url).toContain(created.body.token);
      const hours = (Date.parse(created.body.expiresAt) - Date.parse(created.body.createdAt)) / 3600_000;
      expect(hours).toBe(168);
      const stored = await testDb().sessionInvite.findUniqueOrThrow({ where: { id: created.body.id } });
      expect(stored.tokenHash).not.toContain(created.body.token);
      expect(stored.tokenHash).toMatch(/^[0-9a-f]{64}$/);
      const listed = await a.request('GET', `/api/sessions/${key}/invites`, { token: owner.token });
      expect(listed.body.items).toHaveLength(1);
      expect(JSON.stringify(listed.body)).not.toContain(created.body.token);

      expect(await accept(created.body.token, alice, b)).toMatchObject({
        status: 200,
        body: { session: { key, title: '' }, role: 'editor' },
      });
      expect((await a.request('GET', `/api/sessions/${key}`, { token: alice.token })).body.role).toBe('editor');
      expect((await a.request('DELETE', `/api/sessions/${key}/invites/${created.body.id}`, { token: owner.token })).status).toBe(204);
      expect((await accept(created.body.token, bob)).body).toMatchObject({ status: 410, code: 'INVITE_EXPIRED' });
      expect((await a.request('POST', `/api/invites/${created.body.token}/accept`)).status).toBe(401);
    });

    it('validates bounds, expires, runs out, and never lowers a role', async () => {
      const key = await newSession();
      for (const body of [
        { role: 'editor', expiresInHours: 0 },
        { role: 'editor', expiresInHours: 721 },
        { role: 'editor', maxUses: 1001 },
        { role: 'owner' },
      ]) {
        expect((await invite(key, body)).body.code).toBe('VALIDATION_FAILED');
      }
      const hourly = await invite(key, { role: 'viewer', expiresInHours: 1 });
      await testDb().$executeRaw`UPDATE session_invites SET expires_at = now() - interval '1 second' WHERE id = ${hourly.body.id}::uuid`;
      expect((await accept(hourly.body.token, bob)).body.code).toBe('INVITE_EXPIRED');

      const twice = await invite(key, { role: 'viewer', maxUses: 2 });
      const [u1, u2, u3] = await Promise.all([1, 2, 3].map(() => createUser()));
      expect((await accept(twice.body.token, u1)).status).toBe(200);
      expect((await accept(twice.body.token, u2)).status).toBe(200);
      expect((await accept(twice.body.token, u3)).body.code).toBe('INVITE_EXPIRED');

      await addMember(key, alice, 'editor');
      const viewerInvite = await invite(key, { role: 'viewer' });
      expect((await accept(viewerInvite.body.token, alice)).body.role).toBe('editor');
      expect((await accept(viewerInvite.body.token, owner)).body.role).toBe('owner');
      expect((await a.request('GET', `/api/sessions/${key}`, { token: alice.token })).body.role).toBe('editor');
      const viewers = await invite(key, { role: 'editor' });
      expect((await accept(viewers.body.token, u1)).body.role).toBe('editor'); // raised from viewer

      expect((await accept('A'.repeat(43), bob)).body).toMatchObject({ status: 404, code: 'INVITE_NOT_FOUND' });
      expect((await accept('short', bob)).body.code).toBe('INVITE_NOT_FOUND');
    });

    it('makes whoever accepts on a link or readonly session a member, at no lower role, kept when it turns private', async () => {
      const cases = [
        ['link', 'viewer', 'editor'],
        ['link', 'editor', 'editor'],
        ['readonly', 'editor', 'editor'],
        ['readonly', 'viewer', 'viewer'],
      ] as const;
      for (const [visibility, invited, role] of cases) {
        const key = await newSession(visibility);
        const [joiner, passerBy] = await Promise.all([createUser(), createUser()]);
        const made = await invite(key, { role: invited });
        expect(await accept(made.body.token, joiner, b)).toMatchObject({ status: 200, body: { role } });
        const members = await a.request('GET', `/api/sessions/${key}/members`, { token: owner.token });
        expect(members.body.items.map((m: any) => [m.userId, m.role])).toEqual([
          [owner.user.id, 'owner'],
          [joiner.user.id, role],
        ]);
        const mine = await b.request('GET', '/api/sessions?member=true', { token: joiner.token });
        expect(mine.body.items.map((s: any) => [s.key, s.role])).toEqual([[key, role]]);
        const listed = await a.request('GET', `/api/sessions/${key}/invites`, { token: owner.token });
        expect(listed.body.items[0].uses).toBe(1);
        const { version } = (await a.request('GET', `/api/sessions/${key}`, { token: owner.token })).body;
        const hidden = await a.request('PATCH', `/api/sessions/${key}`, { body: { version, visibility: 'private' }, token: owner.token });
        expect(hidden.status).toBe(200);
        expect((await b.request('GET', `/api/sessions/${key}`, { token: joiner.token })).body).toMatchObject({ key, role });
        expect((await b.request('GET', `/api/sessions/${key}`, { token: passerBy.token })).body.code).toBe('SESSION_NOT_FOUND');
        // Accepting again changes nothing and takes no use.
        expect((await accept(made.body.token, joiner)).body.role).toBe(role);
        expect((await a.request('GET', `/api/sessions/${key}/invites`, { token: owner.token })).body.items[0].uses).toBe(1);
      }
    });

    it('of 20 concurrent accepts of a one-use invite, exactly one wins', async () => {
      const key = await newSession();
      const once = await invite(key, { role: 'editor', maxUses: 1 });
      const users = await Promise.all(Array.from({ length: 20 }, () => createUser()));
      const answers = await Promise.all(users.map((u, i) => accept(once.body.token, u, i % 2 ? a : b)));
      expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
      expect(answers.filter((r) => r.status === 410 && r.body.code === 'INVITE_EXPIRED')).toHaveLength(19);
      const members = await a.request('GET', `/api/sessions/${key}/members`, { token: owner.token });
      expect(members.body.items).toHaveLength(2);
    });

    it('counts unknown invite tokens toward the key-probe guard', async () => {
      const guarded = await startTestApp({ REDIS_PREFIX: `${currentRun().redisPrefix}members-probe:`, KEY_PROBE_LIMIT: '3' });
      try {
        for (let i = 0; i < 3; i++) {
          expect((await guarded.request('POST', `/api/invites/${'B'.repeat(40)}${i}/accept`, { token: bob.token })).body.code).toBe(
            'INVITE_NOT_FOUND',
          );
        }
        expect((await guarded.request('POST', `/api/invites/${'B'.repeat(43)}/accept`, { token: bob.token })).body.code).toBe('BLOCKED');
        expect((await guarded.request('GET', '/api/sessions/ABC', { token: bob.token })).body.code).toBe('BLOCKED');
      } finally {
        await guarded.close();
      }
    });
  });

  it('refuses the snapshot of an editor removed while it waited for the session, though the cache still named them', async () => {
    const key = await newSession();
    const editor = await createUser();
    await addMember(key, editor, 'editor');
    // Warm the cached head with the editor still in it; the removal below bypasses what would refresh it.
    expect((await a.request('GET', `/api/sessions/${key}`, { token: editor.token })).body.role).toBe('editor');
    let taken: Promise<{ status: number; body: any }> | undefined;
    await testDb().$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT id FROM sessions WHERE key = ${key} FOR UPDATE`;
        taken = a.request('POST', `/api/sessions/${key}/snapshots`, { body: { label: 'late' }, token: editor.token });
        // The snapshot is past its cached check and waits for the row: remove the editor meanwhile.
        const end = Date.now() + 5000;
        for (;;) {
          const waiting = await testDb().$queryRaw<unknown[]>`
            SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
          if (waiting.length > 0) break;
          if (Date.now() > end) throw new Error('the snapshot never waited for the session row');
          await new Promise((r) => setTimeout(r, 10));
        }
        await tx.$executeRaw`UPDATE sessions SET member_roles = member_roles - ${editor.user.id}::text WHERE key = ${key}`;
      },
      { timeout: 15_000 },
    );
    expect((await taken!).body).toMatchObject({ status: 404, code: 'SESSION_NOT_FOUND' });
    expect(await testDb().snapshot.count({ where: { session: { key } } })).toBe(0);
  });

  describe('live effect on sockets', () => {
    it('tells a lowered member their role and removes a removed one, on every instance', async () => {
      const key = await newSession();
      await addMember(key, alice, 'editor');
      const onA = await open(a, alice.token);
      const onB = await open(b, alice.token);
      for (const s of [onA, onB]) expect((await ack(s, 'session.join', { key })).ok).toBe(true);
      const roles = [record(onA, 'session.role'), record(onB, 'session.role')];
      const revoked = [record(onA, 'session.revoked'), record(onB, 'session.revoked')];
      await addMember(key, alice, 'viewer');
      await waitFor(() => roles.every((r) => r.length === 1));
      expect(roles[1][0]).toEqual({ key, role: 'viewer' });
      expect((await ack(onB, 'block.create', { key, type: 'text', content: {} })).code).toBe('READ_ONLY');
      await a.request('DELETE', `/api/sessions/${key}/members/${alice.user.id}`, { token: owner.token });
      await waitFor(() => revoked.every((r) => r.length === 1));
      expect(revoked[0][0]).toEqual({ key, reason: 'access' });
      const after = [record(onA, 'change'), record(onB, 'change')];
      await newBlock(key);
      await new Promise((r) => setTimeout(r, 200));
      expect(after.flat()).toEqual([]);
    });

    it('gives members a seat in a full room', async () => {
      const small = { REDIS_PREFIX: `${currentRun().redisPrefix}members-seats:`, SESSION_MAX_MEMBERS: '1' };
      const app = await startTestApp(small);
      try {
        const key = (await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
        await app.request('PUT', `/api/sessions/${key}/members/${alice.user.id}`, { body: { role: 'viewer' }, token: owner.token });
        const stranger = await connect(app, { token: bob.token });
        sockets.push(stranger);
        expect((await ack(stranger, 'session.join', { key })).ok).toBe(true);
        const anon = await connect(app);
        sockets.push(anon);
        expect((await ack(anon, 'session.join', { key })).code).toBe('ROOM_FULL');
        const member = await connect(app, { token: alice.token });
        sockets.push(member);
        expect((await ack(member, 'session.join', { key })).ok).toBe(true);
      } finally {
        await app.close();
      }
    });
  });

  describe('limits', () => {
    /** Two members and three live invites a session, so the caps are reached in a few calls. */
    let small: TestApp;
    beforeAll(async () => {
      small = await startTestApp({
        REDIS_PREFIX: `${currentRun().redisPrefix}members-limits:`,
        SESSION_MEMBER_LIMIT: '2',
        SESSION_INVITE_LIMIT: '3',
      });
    });
    afterAll(() => small.close());

    const smallSession = async () => {
      const res = await small.request('POST', '/api/sessions', {
        body: { typeSlug: 'document', visibility: 'private' },
        token: owner.token,
      });
      return res.body.key as string;
    };
    const put = (key: string, user: User, role = 'editor') =>
      small.request('PUT', `/api/sessions/${key}/members/${user.user.id}`, { body: { role }, token: owner.token });
    const invite = (key: string, body: Record<string, unknown> = { role: 'viewer' }) =>
      small.request('POST', `/api/sessions/${key}/invites`, { body, token: owner.token });

    it('refuses a member past SESSION_MEMBER_LIMIT, by PUT and by invite, without taking a use', async () => {
      const key = await smallSession();
      const [u1, u2, u3] = await Promise.all([1, 2, 3].map(() => createUser()));
      expect((await put(key, u1)).status).toBe(201);
      expect((await put(key, u2)).status).toBe(201);
      expect((await put(key, u3)).body).toMatchObject({ status: 409, code: 'MEMBER_LIMIT_REACHED' });
      // A member already in keeps changing role at the cap.
      expect((await put(key, u1, 'viewer')).status).toBe(200);
      const link = await invite(key, { role: 'editor', maxUses: 1 });
      const refused = await small.request('POST', `/api/invites/${link.body.token}/accept`, { token: u3.token });
      expect(refused.body).toMatchObject({ status: 409, code: 'MEMBER_LIMIT_REACHED' });
      const listed = await small.request('GET', `/api/sessions/${key}/invites`, { token: owner.token });
      expect(listed.body.items.find((i: any) => i.id === link.body.id).uses).toBe(0);
      // A member leaving frees the seat; the same invite then lets the third one in.
      expect((await small.request('DELETE', `/api/sessions/${key}/members/${u2.user.id}`, { token: u2.token })).status).toBe(204);
      expect((await small.request('POST', `/api/invites/${link.body.token}/accept`, { token: u3.token })).status).toBe(200);
      const members = await small.request('GET', `/api/sessions/${key}/members`, { token: owner.token });
      expect(members.body.items.map((m: any) => m.userId)).toEqual([owner.user.id, u1.user.id, u3.user.id]);
    });

    it('keeps at most SESSION_INVITE_LIMIT live invites; revoked, expired and used-up ones make room', async () => {
      const key = await smallSession();
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await invite(key, { role: 'viewer', maxUses: 1 }));
      expect(made.map((r) => r.status)).toEqual([201, 201, 201]);
      expect((await invite(key)).body).toMatchObject({ status: 409, code: 'INVITE_LIMIT_REACHED' });
      expect((await small.request('DELETE', `/api/sessions/${key}/invites/${made[0].body.id}`, { token: owner.token })).status).toBe(204);
      expect((await invite(key)).status).toBe(201);
      await testDb().$executeRaw`UPDATE session_invites SET expires_at = now() - interval '1 second' WHERE id = ${made[1].body.id}::uuid`;
      expect((await invite(key)).status).toBe(201);
      const joiner = await createUser();
      expect((await small.request('POST', `/api/invites/${made[2].body.token}/accept`, { token: joiner.token })).status).toBe(200);
      expect((await invite(key)).status).toBe(201);
      expect((await invite(key)).body.code).toBe('INVITE_LIMIT_REACHED');
      // Spent invites stay listed up to the limit again (the newest); older ones go when an invite is made.
      const live = (await small.request('GET', `/api/sessions/${key}/invites`, { token: owner.token })).body.items.filter(
        (i: any) => !i.revoked && i.uses === 0 && Date.parse(i.expiresAt) > Date.now(),
      );
      for (const i of live) await small.request('DELETE', `/api/sessions/${key}/invites/${i.id}`, { token: owner.token });
      const fresh = await invite(key);
      expect(fresh.status).toBe(201);
      const listed = await small.request('GET', `/api/sessions/${key}/invites`, { token: owner.token });
      expect(listed.body.items).toHaveLength(4);
      expect(listed.body.items[0].id).toBe(fresh.body.id);
      expect(listed.body.items.map((i: any) => i.id)).not.toContain(made[0].body.id);
      // Concurrent creates on a fresh session: the cap holds exactly (counted under the row lock).
      const other = await smallSession();
      const burst = await Promise.all(Array.from({ length: 10 }, () => invite(other)));
      expect(burst.filter((r) => r.status === 201)).toHaveLength(3);
      expect(burst.filter((r) => r.status === 409 && r.body.code === 'INVITE_LIMIT_REACHED')).toHaveLength(7);
    });

    it('takes a deleted user off every session they were a member of, as broadcast member.removed changes', async () => {
      const [first, second] = [await smallSession(), await smallSession()];
      const [gone, stays, next] = await Promise.all([1, 2, 3].map(() => createUser()));
      for (const key of [first, second]) expect((await put(key, gone)).status).toBe(201);
      expect((await put(first, stays, 'viewer')).status).toBe(201);
      expect((await put(first, next)).body.code).toBe('MEMBER_LIMIT_REACHED');
      const watcher = await open(small, owner.token);
      expect((await ack(watcher, 'session.join', { key: first })).ok).toBe(true);
      const seen = record(watcher, 'change');

      expect((await small.request('DELETE', `/api/admin/users/${gone.user.id}`, { token: ADMIN_TOKEN })).status).toBe(204);
      for (const key of [first, second]) {
        const changes = await small.request('GET', `/api/sessions/${key}/changes?since=0`, { token: owner.token });
        const last = changes.body.items.at(-1);
        expect(last).toMatchObject({ kind: 'member.removed', member: { userId: gone.user.id, role: null }, actor: { userId: null } });
        const members = await small.request('GET', `/api/sessions/${key}/members`, { token: owner.token });
        expect(members.body.items.map((m: any) => m.userId)).not.toContain(gone.user.id);
        const session = await small.request('GET', `/api/sessions/${key}`, { token: owner.token });
        expect(session.body.seq).toBe(last.seq);
      }
      await waitFor(() => seen.some((c) => c.kind === 'member.removed'));
      expect(seen.find((c) => c.kind === 'member.removed').member).toEqual({ userId: gone.user.id, role: null });
      // The seat is free again.
      expect((await put(first, next)).status).toBe(201);
      // A user deleting themselves leaves their sessions the same way.
      expect((await small.request('DELETE', '/api/auth/me', { token: stays.token })).status).toBe(204);
      const after = await small.request('GET', `/api/sessions/${first}/members`, { token: owner.token });
      expect(after.body.items.map((m: any) => m.userId)).toEqual([owner.user.id, next.user.id]);
    });
  });

  it('bounds member and invitation writes per user (member-changes), reads untouched', async () => {
    const limited = await startTestApp({
      REDIS_PREFIX: `${currentRun().redisPrefix}members-rate:`,
      RATE_LIMIT_POLICIES: JSON.stringify({ ...RELAXED_LIMITS, 'member-changes': { FREE: { limit: 4, windowSeconds: 60 } } }),
    });
    try {
      const key = (
        await limited.request('POST', '/api/sessions', { body: { typeSlug: 'document', visibility: 'private' }, token: owner.token })
      ).body.key as string;
      const writes = [
        () => limited.request('PUT', `/api/sessions/${key}/members/${alice.user.id}`, { body: { role: 'editor' }, token: owner.token }),
        () => limited.request('PUT', `/api/sessions/${key}/members/${alice.user.id}`, { body: { role: 'viewer' }, token: owner.token }),
        () => limited.request('POST', `/api/sessions/${key}/invites`, { body: { role: 'viewer' }, token: owner.token }),
        () => limited.request('DELETE', `/api/sessions/${key}/members/${alice.user.id}`, { token: owner.token }),
      ];
      const answers = [];
      for (const write of writes) answers.push(await write());
      expect(answers.map((r) => r.status)).toEqual([201, 200, 201, 204]);
      expect(answers[0].headers.get('ratelimit-limit')).toBe('4');
      const refused = await writes[0]();
      expect(refused.body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Nothing was written by the refused call, and reads are not limited.
      const members = await limited.request('GET', `/api/sessions/${key}/members`, { token: owner.token });
      expect(members).toMatchObject({ status: 200 });
      expect(members.body.items.map((m: any) => m.userId)).toEqual([owner.user.id]);
      // The window is the caller's: accepting an invite counts toward the acceptor's own.
      const token = answers[2].body.token as string;
      const accepts = [];
      for (let i = 0; i < 5; i++) accepts.push(await limited.request('POST', `/api/invites/${token}/accept`, { token: bob.token }));
      expect(accepts.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await limited.close();
    }
  });

  it('revocation race on two instances: no write of a removed member lands after the removal, and no later change reaches them', async () => {
    const TRIALS = 50;
    const member = await createUser({ displayName: 'Racer' });
    const flooders = [await open(a, member.token), await open(b, member.token)];
    const joiner = await open(b, member.token);
    // A reader on protocol 2 too: its `changes` batches are checked change by change.
    const batched = await connect(a, { token: member.token, protocol: 2 });
    sockets.push(batched);
    const received: Array<Array<{ seq: number; key: string }>> = [[], [], [], []];
    [...flooders, joiner].forEach((s, i) =>
      s.on('change', (c: { seq: number }, room: { key: string }) => received[i].push({ seq: c.seq, key: room.key })),
    );
    batched.on('changes', ({ key, changes }: { key: string; changes: Array<{ seq: number }> }) =>
      received[3].push(...changes.map((c) => ({ seq: c.seq, key }))),
    );
    let accepted = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const key = await newSession();
      await a.request('PUT', `/api/sessions/${key}/members/${member.user.id}`, { body: { role: 'editor' }, token: owner.token });
      const block = await newBlock(key);
      for (const s of [...flooders, batched]) await ack(s, 'session.join', { key });
      let stop = false;
      const loops = [
        (async () => {
          for (let v = 1; !stop; v++) {
            const r = await a.request('POST', `/api/sessions/${key}/blocks`, {
              body: { type: 'text', content: { v } },
              token: member.token,
            });
            if (r.status === 201) accepted++;
          }
        })(),
        (async () => {
          while (!stop) {
            const current = await b.request('GET', `/api/sessions/${key}/blocks`, { token: member.token });
            const version = current.body.items?.find((x: any) => x.id === block)?.version ?? 1;
            await b.request('PATCH', `/api/sessions/${key}/blocks/${block}`, {
              body: { version, content: { t: trial } },
              token: member.token,
            });
          }
        })(),
        ...flooders.map(async (s) => {
          while (!stop) await ack(s, 'block.create', { key, type: 'text', content: {} }).catch(() => undefined);
        }),
        (async () => {
          while (!stop) {
            await ack(joiner, 'session.join', { key }).catch(() => undefined);
            await ack(joiner, 'session.leave', { key }).catch(() => undefined);
          }
        })(),
      ];
      await new Promise((r) => setTimeout(r, 5 + (trial % 5) * 4));
      const removed = await (trial % 2 ? a : b).request('DELETE', `/api/sessions/${key}/members/${member.user.id}`, { token: owner.token });
      expect(removed.status).toBe(204);
      await new Promise((r) => setTimeout(r, 20));
      stop = true;
      await Promise.all(loops);
      await newBlock(key);
      const rows = await testDb().$queryRaw<Array<{ seq: bigint; kind: string; actor: { userId: string | null } }>>`
        SELECT c.seq, c.kind, c.actor FROM changes c JOIN sessions s ON s.id = c.session_id WHERE s.key = ${key} ORDER BY c.seq`;
      const removal = Number(rows.find((r) => r.kind === 'member.removed')!.seq);
      const late = rows.filter((r) => r.actor.userId === member.user.id && Number(r.seq) > removal);
      expect({ trial, late }).toEqual({ trial, late: [] });
      await new Promise((r) => setTimeout(r, 30));
      const leaked = received.flat().filter((c) => c.key === key && c.seq > removal);
      expect({ trial, leaked }).toEqual({ trial, leaked: [] });
    }
    // The floods did write before each removal: the race was real, and reached the batched reader too.
    expect(accepted).toBeGreaterThan(0);
    expect(received[3].length).toBeGreaterThan(0);
  }, 90_000);
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
