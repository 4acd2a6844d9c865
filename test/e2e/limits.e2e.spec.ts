import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'socket.io-client';
import { ADMIN_TOKEN, isolatedRedis, startTestApp, type ApiResponse, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser } from '../helpers/factories.js';
import { ack, socketFrom } from '../helpers/sockets.js';

let nextIp = 1;
const freshIp = () => `198.18.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`;
const window = (limit: number) => ({ limit, windowSeconds: 60 });
const statuses = (answers: ApiResponse[]) => answers.map((r) => r.status).sort();
const times = (n: number, status: number) => Array<number>(n).fill(status);

describe('limits on creation, registration, failed logins and seats', () => {
  let a: TestApp;
  let b: TestApp;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    const env = {
      ...isolatedRedis('limits'),
      TRUST_PROXY: 'true',
      RATE_LIMIT_BLOCK_AFTER: '1000',
      SESSION_MAX_MEMBERS: '12',
      RATE_LIMIT_POLICIES: JSON.stringify({
        'session-creates': { anonymous: window(5), FREE: window(5), global: null },
        snapshots: { anonymous: window(3), FREE: window(3), global: null },
        registrations: { anonymous: window(4) },
        'login-failures': { anonymous: window(8) },
        'login-failures-account': { anonymous: window(3) },
      }),
    };
    [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all([a.close(), b.close()]);
    await closeTestDb();
  });

  const from = (ip: string, token?: string) => ({ headers: { 'x-forwarded-for': ip }, token });
  const either = (i: number) => (i % 2 ? a : b);
  const stats = async () => (await a.request('GET', '/api/admin/rate-limits/stats', { token: ADMIN_TOKEN })).body;
  const reset = (body: object) => b.request('POST', '/api/admin/rate-limits/reset', { token: ADMIN_TOKEN, body });

  describe('failed logins', () => {
    const password = 'the right password';
    const register = async () => {
      const email = `limits.${Date.now()}.${Math.random().toString(36).slice(2)}@example.test`;
      const res = await a.request('POST', '/api/auth/register', { body: { email, password }, ...from(freshIp()) });
      expect(res.status).toBe(201);
      return { email, id: res.body.user.id as string };
    };
    const login = (api: TestApp, email: string, ip: string, secret = 'a wrong guess') =>
      api.request('POST', '/api/auth/login', { body: { email, password: secret }, ...from(ip) });

    it('allows exactly 3 failures per account across instances, then refuses even the right password, from any IP', async () => {
      const before = await stats();
      const { email } = await register();
      const ip = freshIp();
      const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(either(i), email, ip)));
      expect(statuses(guesses)).toEqual([...times(3, 401), ...times(9, 429)]);
      expect(guesses.filter((r) => r.status === 429).every((r) => r.body.code === 'RATE_LIMITED')).toBe(true);
      const right = await login(a, email.toUpperCase(), ip, password);
      expect([right.status, right.body.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(right.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(right.body.retryAfter).toBeGreaterThanOrEqual(1);
      expect((await login(b, email, freshIp(), password)).status).toBe(429);
      // Each refusal is the account's, or the IP's while other guesses held its units: 11 in all; 3 failures counted.
      const after = await stats();
      const refusals = (s: any) => s.byAction['login-failures-account'].limited + s.byAction['login-failures'].limited;
      expect(refusals(after) - refusals(before)).toBe(11);
      expect(after.byAction['login-failures-account'].allowed - before.byAction['login-failures-account'].allowed).toBe(3);
    });

    it('limits an unknown email the same way, so the answers never tell whether an account exists', async () => {
      const ip = freshIp();
      const email = `nobody.${Date.now()}@example.test`;
      const guesses = await Promise.all(Array.from({ length: 12 }, (_, i) => login(either(i), email, ip)));
      expect(statuses(guesses)).toEqual([...times(3, 401), ...times(9, 429)]);
    });

    it('allows exactly 8 failures per IP over many accounts, then refuses the right password from that IP only', async () => {
      const { email } = await register();
      const ip = freshIp();
      const guesses = await Promise.all(
        Array.from({ length: 12 }, (_, i) => login(either(i), `nobody.${i}.${Date.now()}@example.test`, ip)),
      );
      expect(statuses(guesses)).toEqual([...times(8, 401), ...times(4, 429)]);
      const refused = await login(a, email, ip, password);
      expect([refused.status, refused.body.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await login(b, email, freshIp(), password)).status).toBe(200);
    });

    it('a successful login clears the account window and takes nothing from the IP', async () => {
      const { email } = await register();
      const ip = freshIp();
      expect([(await login(a, email, ip)).status, (await login(b, email, ip)).status]).toEqual([401, 401]);
      const ok = await login(a, email, ip, password);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-remaining')).toBe('6');
      const again = await Promise.all(Array.from({ length: 5 }, (_, i) => login(either(i), email, ip)));
      expect(statuses(again)).toEqual([...times(3, 401), ...times(2, 429)]);
    });

    it("an operator's reset clears the account's window ({userId}) and the IP's ({ip})", async () => {
      const { email, id } = await register();
      const ip = freshIp();
      for (let i = 0; i < 4; i++) await login(either(i), email, ip);
      expect((await login(a, email, ip, password)).status).toBe(429);
      expect((await reset({ userId: id })).status).toBe(200);
      expect((await login(b, email, ip, password)).status).toBe(200);

      const crowded = freshIp();
      for (let i = 0; i < 9; i++) await login(either(i), `nobody.${i}.${Date.now()}@example.test`, crowded);
      expect((await login(a, email, crowded, password)).status).toBe(429);
      expect((await reset({ ip: crowded })).status).toBe(200);
      expect((await login(b, email, crowded, password)).status).toBe(200);
    });
  });

  describe('session creation', () => {
    const create = (api: TestApp, ip: string, headers: Record<string, string> = {}) =>
      api.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, headers: { 'x-forwarded-for': ip, ...headers } });
    const put = (api: TestApp, key: string, ip: string) =>
      api.request('PUT', `/api/sessions/${key}`, { body: { typeSlug: 'document' }, ...from(ip) });

    it('allows exactly 5 per IP under parallel requests on two instances', async () => {
      const before = await stats();
      const ip = freshIp();
      const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => create(either(i), ip)));
      expect(statuses(answers)).toEqual([...times(5, 201), ...times(4, 429)]);
      const refused = answers.find((r) => r.status === 429)!;
      expect(refused.body.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await create(a, freshIp())).status).toBe(201);
      const after = await stats();
      expect(after.byAction['session-creates'].allowed - before.byAction['session-creates'].allowed).toBe(6);
      expect(after.byAction['session-creates'].limited - before.byAction['session-creates'].limited).toBe(4);
    });

    it('counts a PUT only when it creates, and an Idempotency-Key replay not at all', async () => {
      const ip = freshIp();
      const first = await create(a, ip, { 'idempotency-key': 'limits-replay' });
      expect([first.status, first.headers.get('ratelimit-remaining')]).toEqual([201, '4']);
      const opened = [];
      for (let i = 0; i < 6; i++) opened.push(await put(either(i), first.body.key, ip));
      expect(statuses(opened)).toEqual(times(6, 200));
      expect((await put(a, first.body.key, ip)).headers.get('ratelimit-remaining')).toBe('4');
      const replays = await Promise.all([0, 1, 2].map((i) => create(either(i), ip, { 'idempotency-key': 'limits-replay' })));
      expect(replays.map((r) => [r.status, r.body.key])).toEqual(Array.from({ length: 3 }, () => [200, first.body.key]));
      const invalid = await a.request('POST', '/api/sessions', { body: { typeSlug: 'no-such-type' }, ...from(ip) });
      expect(invalid.status).toBe(400);
      const fresh = `LIM${Math.random().toString(36).slice(2, 10).toUpperCase()}`;
      expect((await put(b, fresh, ip)).status).toBe(201);
      expect(statuses(await Promise.all([0, 1, 2, 3].map((i) => create(either(i), ip))))).toEqual([201, 201, 201, 429]);
      // Exhausted: opening an existing key is refused too, so the answer does not tell whether a key is taken.
      expect((await put(a, first.body.key, ip)).status).toBe(429);
    });

    it('counts per user for a signed-in caller, and an operator resets it', async () => {
      const { token, user } = await createUser();
      const ip = freshIp();
      const answers = await Promise.all(Array.from({ length: 7 }, (_, i) => create(either(i), ip, { authorization: `Bearer ${token}` })));
      expect(statuses(answers)).toEqual([...times(5, 201), ...times(2, 429)]);
      expect((await create(a, ip)).status).toBe(201);
      await reset({ userId: user.id });
      expect((await create(b, ip, { authorization: `Bearer ${token}` })).status).toBe(201);
    });
  });

  it('limits manual snapshots: exactly 3, and a refused one counts nothing', async () => {
    const { token } = await createUser();
    const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token })).body.key as string;
    const snap = (api: TestApp, body: unknown = { label: 'manual' }) =>
      api.request('POST', `/api/sessions/${key}/snapshots`, { body, token });
    expect((await snap(a, { label: 'x', unknown: true })).status).toBe(400);
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => snap(either(i))));
    expect(statuses(answers)).toEqual([...times(3, 201), ...times(3, 429)]);
    expect(answers.find((r) => r.status === 429)!.body.code).toBe('RATE_LIMITED');
  });

  it('limits registrations per IP: exactly 4 attempts, taken emails too, even with a token', async () => {
    const ip = freshIp();
    const { token } = await createUser();
    const email = (i: number) => `reg.${i}.${Date.now()}.${Math.random().toString(36).slice(2)}@example.test`;
    const taken = email(99);
    const answers = await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        either(i).request('POST', '/api/auth/register', {
          body: { email: i < 2 ? taken : email(i), password: 'long enough' },
          ...from(ip, i === 3 ? token : undefined),
        }),
      ),
    );
    expect(answers.filter((r) => r.status === 429)).toHaveLength(3);
    expect(answers.filter((r) => r.status === 201 || r.status === 409)).toHaveLength(4);
    expect(
      (await a.request('POST', '/api/auth/register', { body: { email: email(7), password: 'long enough' }, ...from(freshIp()) })).status,
    ).toBe(201);
  });

  describe('seats in a room', () => {
    const join = (app: TestApp, key: string, ip: string, token?: string) =>
      new Promise<{ socket: Socket; answer: any }>((resolve, reject) => {
        const socket = socketFrom(app, ip, token);
        sockets.push(socket);
        socket.once('connect_error', reject);
        socket.once('connect', () => ack(socket, 'session.join', { key }).then((answer) => resolve({ socket, answer }), reject));
      });

    it('one IP holds at most 10 seats; the room holds 12; the owner and operators always get in', async () => {
      const owner = await createUser();
      const key = (await a.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: owner.token })).body.key as string;
      const crowd = freshIp();
      const first = await Promise.all(Array.from({ length: 10 }, (_, i) => join(either(i), key, crowd)));
      expect(first.map((j) => j.answer.ok)).toEqual(Array(10).fill(true));
      expect((await join(a, key, crowd)).answer).toMatchObject({ ok: false, code: 'ROOM_FULL' });
      const other = freshIp();
      const member = await createUser();
      expect((await join(b, key, other)).answer.ok).toBe(true);
      expect((await join(a, key, other, member.token)).answer.ok).toBe(true);
      // Full: 12 seats taken.
      expect((await join(b, key, freshIp())).answer).toMatchObject({ ok: false, code: 'ROOM_FULL' });
      expect((await join(a, key, crowd, owner.token)).answer.ok).toBe(true);
      expect((await join(b, key, other, owner.token)).answer.ok).toBe(true);
      expect((await join(a, key, crowd, ADMIN_TOKEN)).answer.ok).toBe(true);
      // A signed-in member already in the room opens another tab.
      expect((await join(b, key, other, member.token)).answer.ok).toBe(true);
      // A seat freed is a seat for someone else.
      first[0].socket.close();
      let late: { answer: any } | undefined;
      for (let i = 0; i < 50 && !late?.answer.ok; i++) {
        late = await join(a, key, freshIp());
        if (!late.answer.ok) await new Promise((r) => setTimeout(r, 50));
      }
      expect(late?.answer.ok).toBe(true);
    });
  });
});
