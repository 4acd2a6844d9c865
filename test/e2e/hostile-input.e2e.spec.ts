import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { CLIENT_EVENTS, KNOWN_CLIENT_EVENTS } from '../../src/collaboration/collab.protocol.js';
import { ERROR_CATALOG, type ErrorCode } from '../../src/errors/error-catalog.js';
import { MAX_JSON_DEPTH } from '../../src/errors/json-shape.js';
import {
  anyJson,
  asDecoded,
  asJson,
  FIELD_NAMES,
  hostileBody,
  hostileKey,
  hostileObject,
  hostileText,
  hostileValue,
  refusedShape,
  storedProblem,
} from '../helpers/hostile-json.js';
import { connected, record, socketFrom } from '../helpers/sockets.js';
import { ADMIN_TOKEN, isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

const anyKey = fc.oneof(fc.stringMatching(/^[A-Z0-9]{3,12}$/), fc.string({ maxLength: 20 }).map(encodeURIComponent));
/** Block content and session state arrive one level below the body: they hold at most this many levels. */
const STORED_DEPTH = MAX_JSON_DEPTH - 1;

/**
 * Everything the session holds, read back over HTTP: its fields, its blocks and its whole
 * change log. Fails if any stored value holds what a hostile client may not store.
 */
async function expectNothingHostileStored(api: TestApp, key: string): Promise<void> {
  const document = await api.request('GET', `/api/sessions/${key}`);
  expect(document.status).toBe(200);
  const stored: unknown[] = [
    document.body.state,
    document.body.metadata,
    ...document.body.blocks.map((b: { content: unknown }) => b.content),
  ];
  let since = 0;
  for (;;) {
    const page = await api.request('GET', `/api/sessions/${key}/changes?since=${since}`);
    expect(page.status).toBe(200);
    for (const change of page.body.items) {
      stored.push(change.block?.content, change.session?.state, change.session?.metadata);
      expect(storedProblem(change)).toBeNull();
    }
    if (page.body.items.length === 0 || page.body.items.at(-1).seq >= page.body.seq) break;
    since = page.body.items.at(-1).seq;
  }
  expect(storedProblem(document.body)).toBeNull();
  for (const value of stored) expect(storedProblem(value, STORED_DEPTH)).toBeNull();
}

describe('hostile input never produces a 5xx', () => {
  let api: TestApp;
  let key: string;
  let blockId: string;
  beforeAll(async () => {
    api = await startTestApp();
    key = (await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' } })).body.key;
    blockId = (await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: {} } })).body.id;
  });
  afterAll(() => api.close());

  const routes: ((k: string) => [string, string, string | undefined])[] = [
    () => ['POST', '/api/sessions', undefined],
    (k) => ['PUT', `/api/sessions/${k}`, undefined],
    (k) => ['PATCH', `/api/sessions/${k}`, undefined],
    () => ['POST', '/api/auth/register', undefined],
    () => ['POST', '/api/auth/login', undefined],
    () => ['POST', '/api/admin/themes', ADMIN_TOKEN],
    () => ['PATCH', '/api/admin/users/6f1c9a8e-0000-4000-8000-000000000000', ADMIN_TOKEN],
    (k) => ['POST', `/api/sessions/${k}/blocks`, undefined],
    (k) => ['POST', `/api/sessions/${k}/blocks/batch`, undefined],
    (k) => ['PATCH', `/api/sessions/${k}/blocks/${blockId}?merge=fields`, undefined],
    (k) => ['POST', `/api/sessions/${k}/blocks/${blockId}/move`, undefined],
    (k) => ['POST', `/api/sessions/${k}/snapshots`, undefined],
    () => ['POST', '/api/admin/rate-limits/reset', ADMIN_TOKEN],
  ];

  it('bodies of any shape, on every write route; the ones the JSON checks refuse are 400', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(routes.length - 1), hostileBody, fc.boolean(), async (route, body, existing) => {
        const [method, path, token] = routes[route](existing ? key : 'QQQQQQQQQQQQ');
        const res = await api.request(method, path, { body, token });
        expect(res.status).toBeLessThan(500);
        if (refusedShape(asJson(body))) {
          expect([res.status, res.body.code]).toEqual([400, expect.stringMatching(/^(VALIDATION_FAILED|MALFORMED_JSON)$/)]);
        }
      }),
      { numRuns: 300 },
    );
    await expectNothingHostileStored(api, key);
  });

  it('well-formed requests carrying hostile values reach the database without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostileText, hostileObject, hostileObject, hostileText, async (title, state, metadata, name) => {
        const created = await api.request('POST', '/api/sessions', { body: { typeSlug: 'document', title, state } });
        expect(created.status).toBeLessThan(500);
        if (created.status === 201) await expectNothingHostileStored(api, created.body.key);
        const saved = await api.request('PATCH', `/api/sessions/${key}`, { body: { state, metadata }, headers: { 'if-match': '"1"' } });
        expect(saved.status).toBeLessThan(500);
        const registered = await api.request('POST', '/api/auth/register', {
          body: { email: `${Date.now()}${Math.random()}@x.test`, password: 'long enough', displayName: name || 'n' },
        });
        expect(registered.status).toBeLessThan(500);
        const theme = await api.request('POST', '/api/admin/themes', {
          token: ADMIN_TOKEN,
          body: { name: name || 'n', tokens: { [name]: title } },
        });
        expect(theme.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    await expectNothingHostileStored(api, key);
  });

  it('batches of well-formed ops with hostile ids, versions, anchors and content', async () => {
    const id = fc.oneof(fc.constant(blockId), fc.uuid(), fc.constant('00000000-0000-0000-0000-000000000000'));
    const content = fc.oneof(hostileObject, fc.dictionary(fc.string({ unit: 'binary', maxLength: 20 }), anyJson, { maxKeys: 4 }));
    const op = fc.oneof(
      fc.record(
        { op: fc.constant('create'), id, type: fc.constant('text'), content, afterId: id },
        { requiredKeys: ['op', 'type', 'content'] },
      ),
      fc.record({ op: fc.constant('update'), id, version: fc.integer({ min: 1, max: 2 ** 31 - 1 }), content }),
      fc.record(
        { op: fc.constant('move'), id, version: fc.integer({ min: 1, max: 5 }), beforeId: id },
        { requiredKeys: ['op', 'id', 'version'] },
      ),
      fc.record({ op: fc.constant('delete'), id, version: fc.integer({ min: 1, max: 5 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
        const res = await api.request('POST', `/api/sessions/${key}/blocks/batch`, { body: { ops } });
        expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
    await expectNothingHostileStored(api, key);
  });

  it('keys, queries and headers of any shape', async () => {
    await fc.assert(
      fc.asyncProperty(anyKey, fc.string({ maxLength: 40 }), fc.string({ maxLength: 300 }), async (k, query, header) => {
        const safeHeader = header.replace(/[^\x20-\x7e]/g, '');
        const responses = await Promise.all([
          api.request('GET', `/api/sessions/${k}`),
          api.request('GET', `/api/sessions?limit=${encodeURIComponent(query)}&cursor=${encodeURIComponent(query)}`, {
            token: ADMIN_TOKEN,
          }),
          api.request('GET', `/api/themes?cursor=${encodeURIComponent(query)}`),
          api.request('PATCH', `/api/sessions/${key}`, { body: { title: 'x' }, headers: { 'if-match': safeHeader } }),
          api.request('POST', '/api/sessions', {
            body: { typeSlug: 'document' },
            headers: { 'idempotency-key': safeHeader, 'x-request-id': safeHeader },
          }),
          api.request('GET', '/api/auth/me', { headers: { authorization: safeHeader } }),
          api.request('GET', `/api/sessions/${k}/changes?since=${encodeURIComponent(query)}`),
          api.request('GET', `/api/sessions/${key}/blocks/${blockId}/history?cursor=${encodeURIComponent(query)}`),
          api.request('DELETE', `/api/sessions/${key}/blocks/${encodeURIComponent(query)}?version=${encodeURIComponent(query)}`),
          api.request('PATCH', `/api/sessions/${key}/blocks/${blockId}`, { body: { content: {} }, headers: { 'if-match': safeHeader } }),
        ]);
        for (const res of responses) expect(res.status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});

type Ack = { ok: true; [field: string]: any } | { ok: false; code: string; status: number; [field: string]: any };

/** Long enough for any answer on a loaded machine; an event not answered by then got no ack. */
const ACK_TIMEOUT_MS = 10_000;
const EVENTS = Object.values(CLIENT_EVENTS);
/** Names socket.io-client refuses to emit (and the server's parser to decode). */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/** The ack is positive, or a negative one with a 4xx code of the error catalog and that code's status. */
function expectStableAck(ack: Ack): void {
  if (ack.ok) return;
  expect(Object.keys(ERROR_CATALOG)).toContain(ack.code);
  expect(ack.status).toBe(ERROR_CATALOG[ack.code as ErrorCode].status);
  expect(ack.status).toBeGreaterThanOrEqual(400);
  expect(ack.status).toBeLessThan(500);
}

/**
 * Socket events pass the JSON checks of HTTP bodies, fed by the same generators: every emit
 * is answered by an ack, positive or with a stable 4xx code, never a 500 and never silence;
 * what the checks refuse is VALIDATION_FAILED whatever else is wrong; the connection and the
 * server stay up; and what the session stores afterwards holds nothing hostile.
 */
describe('hostile socket payloads are answered like hostile bodies', () => {
  let api: TestApp;
  let key: string;
  /** The block that update, move and delete events name; a delete that succeeds gets it a successor. */
  const target = { id: '', version: 1 };
  let writer: Socket;
  let observer: Socket;
  /** What the observer, a member of the session, was sent: every change and presence broadcast. */
  let broadcasts: unknown[][];
  let nextIp = 1;
  const sockets: Socket[] = [];

  const open = async () => {
    const socket = await connected(socketFrom(api, `198.51.100.${nextIp++}`));
    sockets.push(socket);
    return socket;
  };
  const emit = (socket: Socket, event: unknown, ...args: unknown[]): Promise<Ack> =>
    (socket.timeout(ACK_TIMEOUT_MS).emitWithAck as (...all: unknown[]) => Promise<Ack>)(event, ...args);
  const newTarget = async () => {
    const block = (await api.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content: { text: 'target' } } })).body;
    Object.assign(target, { id: block.id, version: block.version });
  };
  /** Keeps `target` current from what an event did to it. */
  const follow = async (event: string, ack: Ack) => {
    if (!ack.ok) return;
    if (event === CLIENT_EVENTS.delete) await newTarget();
    else if (ack.block?.id === target.id) target.version = ack.block.version;
  };
  /** The writer stays in the session's room (presence needs it), whatever a generated leave did. */
  const rejoin = async () => expect(await emit(writer, CLIENT_EVENTS.join, { key })).toMatchObject({ ok: true });

  const expectHealthyAndClean = async () => {
    expect((await api.request('GET', '/api/health')).status).toBe(200);
    for (const socket of sockets) expect(socket.connected).toBe(true);
    await expectNothingHostileStored(api, key);
    const late = await open();
    const joined = await emit(late, CLIENT_EVENTS.join, { key });
    expect(joined).toMatchObject({ ok: true });
    for (const member of joined.presence) expect(storedProblem(member.selection ?? null, STORED_DEPTH)).toBeNull();
    for (const seen of broadcasts.flat()) expect(storedProblem(seen)).toBeNull();
  };

  beforeAll(async () => {
    api = await startTestApp({ ...isolatedRedis('hostile-input'), TRUST_PROXY: 'true' });
    key = (await api.request('POST', '/api/sessions', { body: { typeSlug: 'document' } })).body.key;
    await newTarget();
    [writer, observer] = await Promise.all([open(), open()]);
    broadcasts = [record(observer, 'change'), record(observer, 'presence')];
    await rejoin();
    expect(await emit(observer, CLIENT_EVENTS.join, { key })).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await api.close();
  });

  it('payloads of any shape, or none, or several, on every client event', async () => {
    const args = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(hostileBody) },
      { weight: 1, arbitrary: fc.array(hostileBody, { maxLength: 3 }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...EVENTS), args, async (event, payloads) => {
        if (event === CLIENT_EVENTS.presence) await rejoin();
        const ack = await emit(writer, event, ...payloads);
        expectStableAck(ack);
        const received = asDecoded(payloads);
        const [payload] = received;
        const isObject = received.length === 1 && payload !== null && typeof payload === 'object' && !Array.isArray(payload);
        if (!isObject || refusedShape(payload)) expect(ack).toMatchObject({ ok: false, code: 'VALIDATION_FAILED', status: 400 });
        await follow(event, ack);
      }),
      { numRuns: 100 },
    );
    await expectHealthyAndClean();
  });

  it('hostile values inside otherwise well-formed payloads, on every client event', async () => {
    const wellFormed: Record<(typeof EVENTS)[number], () => Record<string, unknown>> = {
      [CLIENT_EVENTS.join]: () => ({ key, since: 0 }),
      [CLIENT_EVENTS.leave]: () => ({ key }),
      [CLIENT_EVENTS.presence]: () => ({ key, cursor: { blockId: target.id, offset: 3 }, selection: { from: 1, to: 4 }, status: 'typing' }),
      [CLIENT_EVENTS.create]: () => ({ key, type: 'text', content: { text: 'hello', marks: [{ bold: true }] } }),
      [CLIENT_EVENTS.update]: () => ({ key, id: target.id, version: target.version, content: { text: 'hello again' } }),
      [CLIENT_EVENTS.move]: () => ({ key, id: target.id, version: target.version }),
      [CLIENT_EVENTS.delete]: () => ({ key, id: target.id, version: target.version }),
      [CLIENT_EVENTS.undo]: () => ({ key }),
      [CLIENT_EVENTS.redo]: () => ({ key }),
    };
    // Where the hostile value goes: in place of one of the event's fields, as a new key inside
    // one of its object fields (`content.*`), or as a field of its own (`+`), named by `name`.
    // Fields that take any JSON come up most, so that many writes are accepted and stored.
    const anyJsonPlaces: Partial<Record<(typeof EVENTS)[number], string[]>> = {
      [CLIENT_EVENTS.presence]: ['selection', 'selection.*'],
      [CLIENT_EVENTS.create]: ['content.*'],
      [CLIENT_EVENTS.update]: ['content.*'],
    };
    const typedPlaces: Record<(typeof EVENTS)[number], string[]> = {
      [CLIENT_EVENTS.join]: ['key', 'since', '+'],
      [CLIENT_EVENTS.leave]: ['key', '+'],
      [CLIENT_EVENTS.presence]: ['key', 'cursor', 'cursor.*', 'status', '+'],
      [CLIENT_EVENTS.create]: ['key', 'type', 'content', 'afterId', '+'],
      [CLIENT_EVENTS.update]: ['key', 'id', 'version', 'type', 'content', 'merge', '+'],
      [CLIENT_EVENTS.move]: ['key', 'id', 'version', 'afterId', 'beforeId', '+'],
      [CLIENT_EVENTS.delete]: ['key', 'id', 'version', '+'],
      [CLIENT_EVENTS.undo]: ['key', '+'],
      [CLIENT_EVENTS.redo]: ['key', '+'],
    };
    const placeIn = (event: (typeof EVENTS)[number]) => {
      const typed = fc.constantFrom(...typedPlaces[event]);
      const open = anyJsonPlaces[event];
      return open ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...open) }, { weight: 1, arbitrary: typed }) : typed;
    };
    // A key of the right form, for a session that does not exist, now and then.
    const keyValue = fc.oneof({ weight: 3, arbitrary: hostileValue }, { weight: 1, arbitrary: fc.stringMatching(/^[A-Z0-9]{3,12}$/) });
    const emitted = fc
      .constantFrom(...EVENTS)
      .chain((event) => fc.tuple(fc.constant(event), placeIn(event)))
      .chain(([event, place]) =>
        fc.record({
          event: fc.constant(event),
          place: fc.constant(place),
          name: fc.oneof(fc.constantFrom(...FIELD_NAMES), hostileKey),
          value: place === 'key' ? keyValue : hostileValue,
        }),
      );
    await fc.assert(
      fc.asyncProperty(emitted, async ({ event, place, name, value }) => {
        if (event === CLIENT_EVENTS.presence) await rejoin();
        const base = wellFormed[event]();
        const [field, inside] = place.split('.');
        const payload =
          field === '+' ? { ...base, [name]: value } : { ...base, [field]: inside ? { ...(base[field] as object), [name]: value } : value };
        const ack = await emit(writer, event, payload);
        expectStableAck(ack);
        if (refusedShape(asDecoded([payload])[0])) expect(ack).toMatchObject({ ok: false, code: 'VALIDATION_FAILED', status: 400 });
        await follow(event, ack);
      }),
      { numRuns: 100 },
    );
    await expectHealthyAndClean();
  });

  it('an event name the server does not know gets UNKNOWN_EVENT, whatever its payload', async () => {
    const name = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom(
        'error',
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        ' session.join',
        'BLOCK.CREATE',
        'change',
        'presence',
      ),
      fc.integer(),
    );
    const unknown = name.filter((n) => !KNOWN_CLIENT_EVENTS.has(n as string) && !RESERVED_EVENTS.has(n as string));
    await fc.assert(
      fc.asyncProperty(unknown, hostileBody, async (event, payload) => {
        expect(await emit(writer, event, payload)).toEqual({
          ok: false,
          code: 'UNKNOWN_EVENT',
          status: 404,
          message: ERROR_CATALOG.UNKNOWN_EVENT.detail,
        });
      }),
      { numRuns: 50 },
    );
    await expectHealthyAndClean();
  });
});
