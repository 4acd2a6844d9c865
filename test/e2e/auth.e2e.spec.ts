import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../helpers/test-app.js';
import { closeTestDb, createUser, signToken, testDb } from '../helpers/factories.js';

describe('identity', () => {
  let api: TestApp;
  beforeAll(async () => {
    api = await startTestApp();
  });
  afterAll(async () => {
    await api.close();
    await closeTestDb();
  });

  const email = () => `Person.${Date.now()}.${Math.random().toString(36).slice(2)}@Example.test`;

  it('registers, logs in and answers me, storing a slow salted hash only', async () => {
    const address = email();
    const reg = await api.request('POST', '/api/auth/register', { body: { email: address, password: 'long enough', displayName: 'Ada' } });
    expect(reg.status).toBe(201);
    expect(reg.body.user).toEqual({ id: expect.any(String), email: address.toLowerCase(), displayName: 'Ada', plan: 'FREE' });
    const [, payload] = reg.body.accessToken.split('.');
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toMatchObject({ sub: reg.body.user.id, plan: 'FREE' });

    const twin = await api.request('POST', '/api/auth/register', { body: { email: email(), password: 'long enough' } });
    const [stored, twinStored] = await Promise.all([
      testDb().user.findUnique({ where: { id: reg.body.user.id } }),
      testDb().user.findUnique({ where: { id: twin.body.user.id } }),
    ]);
    expect(stored?.passwordHash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{88}$/);
    expect(twinStored?.passwordHash).not.toBe(stored?.passwordHash);

    const login = await api.request('POST', '/api/auth/login', { body: { email: address.toUpperCase(), password: 'long enough' } });
    expect(login.status).toBe(200);
    const me = await api.request('GET', '/api/auth/me', { token: login.body.accessToken });
    expect(me.body).toEqual(reg.body.user);
  });

  it('derives a display name that fits from a long email', async () => {
    const res = await api.request('POST', '/api/auth/register', {
      body: { email: `${'a'.repeat(150)}${Date.now()}@example.test`, password: 'long enough' },
    });
    expect(res.status).toBe(201);
    expect(res.body.user.displayName).toHaveLength(100);
  });

  it('refuses a taken email, short passwords and long display names', async () => {
    const address = email();
    await api.request('POST', '/api/auth/register', { body: { email: address, password: 'long enough' } });
    const dup = await api.request('POST', '/api/auth/register', { body: { email: address.toUpperCase(), password: 'long enough' } });
    expect([dup.status, dup.body.code]).toEqual([409, 'EMAIL_TAKEN']);
    const short = await api.request('POST', '/api/auth/register', { body: { email: email(), password: 'short' } });
    expect(short.status).toBe(400);
    expect(short.body.errors).toEqual([{ field: 'password', message: 'must be at least 8 characters' }]);
    const long = await api.request('POST', '/api/auth/register', {
      body: { email: email(), password: 'long enough', displayName: 'x'.repeat(101) },
    });
    expect(long.body.errors).toEqual([{ field: 'displayName', message: expect.any(String) }]);
  });

  it('registers one account under 10 concurrent sign-ups of one email', async () => {
    const address = email();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => api.request('POST', '/api/auth/register', { body: { email: address, password: 'long enough' } })),
    );
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 409)).toHaveLength(9);
  });

  it('answers bad credentials the same way for unknown emails and wrong passwords', async () => {
    const address = email();
    await api.request('POST', '/api/auth/register', { body: { email: address, password: 'long enough' } });
    const wrong = await api.request('POST', '/api/auth/login', { body: { email: address, password: 'not the one' } });
    const unknown = await api.request('POST', '/api/auth/login', { body: { email: email(), password: 'not the one' } });
    expect(wrong.status).toBe(401);
    expect(unknown.body).toEqual(wrong.body);
    expect(wrong.body.code).toBe('INVALID_CREDENTIALS');
  });

  it('refuses a present but bad token on every route, anonymous ones included', async () => {
    const { user } = await createUser();
    const forged = await signToken({ sub: user.id, plan: 'ENTERPRISE' }, 'some-other-secret-that-is-long-enough-000');
    const expired = await signToken({ sub: user.id, plan: 'FREE' }, undefined, -10);
    const ghost = await signToken({ sub: '3f9f6f77-1111-4c4e-9a53-2f1f0e0e0e0e', plan: 'FREE' });
    const session = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' } });
    for (const header of [`Bearer ${forged}`, `Bearer ${expired}`, `Bearer ${ghost}`, 'Bearer not.a.jwt', 'Basic abc', 'Bearer']) {
      for (const [method, path] of [
        ['GET', '/api/auth/me'],
        ['GET', `/api/sessions/${session.body.key}`],
        ['GET', '/api/themes'],
        ['GET', '/api/health'],
      ]) {
        const res = await api.request(method, path, { headers: { authorization: header } });
        expect([path, res.status, res.body.code]).toEqual([path, 401, 'INVALID_TOKEN']);
      }
    }
  });

  it('signs and verifies RS256 tokens when a key pair is configured, refusing HS256 ones', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs = await startTestApp({
      JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    });
    try {
      const reg = await rs.request('POST', '/api/auth/register', { body: { email: email(), password: 'long enough' } });
      expect(JSON.parse(Buffer.from(reg.body.accessToken.split('.')[0], 'base64url').toString()).alg).toBe('RS256');
      expect((await rs.request('GET', '/api/auth/me', { token: reg.body.accessToken })).body.id).toBe(reg.body.user.id);
      const hs = await signToken({ sub: reg.body.user.id, plan: 'FREE' });
      expect((await rs.request('GET', '/api/auth/me', { token: hs })).body.code).toBe('INVALID_TOKEN');
    } finally {
      await rs.close();
    }
  });

  it('needs a user token for me', async () => {
    const res = await api.request('GET', '/api/auth/me');
    expect([res.status, res.body.code]).toEqual([401, 'AUTH_REQUIRED']);
  });

  describe('operators', () => {
    it('admin routes: 401 without the admin token, 403 with a user token', async () => {
      const { user, token } = await createUser();
      const none = await api.request('PATCH', `/api/admin/users/${user.id}`, { body: { plan: 'PRO' } });
      expect([none.status, none.body.code]).toEqual([401, 'ADMIN_TOKEN_REQUIRED']);
      const asUser = await api.request('PATCH', `/api/admin/users/${user.id}`, { token, body: { plan: 'PRO' } });
      expect([asUser.status, asUser.body.code]).toEqual([403, 'FORBIDDEN']);
      const stats = await api.request('GET', '/api/admin/sessions/stats', { token });
      expect(stats.status).toBe(403);
    });

    it('a plan change applies to tokens issued before it', async () => {
      const { user, token } = await createUser();
      expect((await api.request('GET', '/api/auth/me', { token })).body.plan).toBe('FREE');
      const change = await api.request('PATCH', `/api/admin/users/${user.id}`, { token: ADMIN_TOKEN, body: { plan: 'ENTERPRISE' } });
      expect(change.status).toBe(200);
      expect(change.body.plan).toBe('ENTERPRISE');
      expect((await api.request('GET', '/api/auth/me', { token })).body.plan).toBe('ENTERPRISE');
    });

    it('validates the plan change', async () => {
      const { user } = await createUser();
      const bad = await api.request('PATCH', `/api/admin/users/${user.id}`, { token: ADMIN_TOKEN, body: { plan: 'GOLD' } });
      expect([bad.status, bad.body.code]).toEqual([400, 'VALIDATION_FAILED']);
      const missing = await api.request('PATCH', '/api/admin/users/6f1c9a8e-0000-4000-8000-000000000000', {
        token: ADMIN_TOKEN,
        body: { plan: 'PRO' },
      });
      expect([missing.status, missing.body.code]).toEqual([404, 'USER_NOT_FOUND']);
      const notUuid = await api.request('PATCH', '/api/admin/users/42', { token: ADMIN_TOKEN, body: { plan: 'PRO' } });
      expect(notUuid.status).toBe(400);
    });
  });
});
