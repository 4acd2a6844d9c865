import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FileOutboxStore } from '../../src/client/file-store.js';
import { MemoryOutboxStore, Outbox, openSessionView, TesseraClient, type BlockView, type Outcome } from '../../src/client/index.js';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { ensureBuilt, freePort } from '../helpers/processes.js';
import { until } from '../helpers/sockets.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** The outbox and the session view against a real server: ordering, restarts, rebase, conflicts and merges. */
describe('the outbox and the session view', () => {
  let app: TestApp;
  let ada: Awaited<ReturnType<typeof createUser>>;
  let scratch: string;
  const clients: TesseraClient[] = [];

  beforeAll(async () => {
    ensureBuilt(); // the killed process runs the package's build
    app = await startTestApp();
    ada = await createUser({ displayName: 'Ada' });
    scratch = mkdtempSync(join(tmpdir(), 'tessera-outbox-'));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    rmSync(scratch, { recursive: true, force: true });
    await app.close();
    await closeTestDb();
  });

  /** A client; `offline` ones are made without connecting (connect them with `socket.connect()`). */
  const client = async (offline = false) => {
    const c = new TesseraClient({ url: app.url, token: ada.token, socket: { autoConnect: !offline } });
    clients.push(c);
    return offline ? c : c.connect();
  };
  const newSession = async () =>
    (await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: ada.token })).body.key as string;
  const httpBlock = async (key: string, content: Record<string, unknown>) =>
    (await app.request('POST', `/api/sessions/${key}/blocks`, { body: { type: 'text', content }, token: ada.token })).body as BlockView;
  const httpPatch = async (key: string, block: BlockView, content: Record<string, unknown>) =>
    (await app.request('PATCH', `/api/sessions/${key}/blocks/${block.id}`, { body: { version: block.version, content }, token: ada.token }))
      .body as BlockView;
  const stored = async (key: string) =>
    (await testDb().block.findMany({ where: { session: { key } }, orderBy: { position: 'asc' } })).map((b) => ({
      id: b.id,
      content: b.content,
      version: b.version,
    }));
  const seqOf = async (key: string) => Number((await testDb().session.findUniqueOrThrow({ where: { key } })).seq);
  const outcomesOf = (outbox: Outbox) => {
    const seen: Outcome[] = [];
    outbox.on('outcome', (outcome) => seen.push(outcome));
    return seen;
  };

  it('shows edits made offline at once, and sends them in order when the connection returns: each stored once', async () => {
    const key = await newSession();
    const first = await httpBlock(key, { text: 'first' });
    const reader = await client();
    const writer = await client(true);
    const outbox = new Outbox(writer, new MemoryOutboxStore());
    const statuses: string[] = [];
    outbox.on('status', ({ status, unsent }) => statuses.push(`${status}:${unsent}`));
    const outcomes = outcomesOf(outbox);
    // The view hears the session through a connected client; its edits wait in the offline one's outbox.
    const view = await openSessionView(reader, outbox, key, { coalesce: false });

    const a = await view.create({ type: 'text', content: { text: 'a' }, afterId: first.id });
    const b = await view.create({ type: 'text', content: { text: 'b' }, afterId: a.edit.id });
    await view.update(a.edit.id, { content: { text: 'a, edited' } });
    await view.move(b.edit.id, { beforeId: first.id });
    await view.update(first.id, { content: { text: 'first, edited' } });
    await view.delete(a.edit.id);
    const c = await view.create({ type: 'text', content: { text: 'c' } });

    // Applied to the view at once, nothing sent.
    const expected = ['b', 'first, edited', 'c'];
    expect(view.blocks.map((x) => x.content.text)).toEqual(expected);
    expect(view.block(first.id)?.version).toBe(2);
    expect(outbox.status).toBe('offline');
    expect(outbox.unsent).toBe(7);
    expect(await seqOf(key)).toBe(1);

    writer.socket.connect();
    await outbox.settled();
    expect(outcomes.map((o) => [o.kind, o.entry.edit.op])).toEqual([
      ['applied', 'create'],
      ['applied', 'create'],
      ['applied', 'update'],
      ['applied', 'move'],
      ['applied', 'update'],
      ['applied', 'delete'],
      ['applied', 'create'],
    ]);
    // One change per edit, and the server's document is the one the view showed.
    expect(await seqOf(key)).toBe(8);
    expect((await stored(key)).map((x) => (x.content as { text: string }).text)).toEqual(expected);
    expect((await stored(key)).map((x) => x.id)).toEqual([b.edit.id, first.id, c.edit.id]);
    await until(() => view.blocks.every((x) => x.position !== ''));
    expect(view.blocks.map((x) => x.content.text)).toEqual(expected);
    expect(statuses[0]).toMatch(/^offline:/);
    expect(statuses).toContain('syncing:7');
    expect(statuses.at(-1)).toBe('online:0');
  });

  it('replays the file store after the process that made the edits was killed: a new process applies each once', async () => {
    const key = await newSession();
    const file = join(scratch, 'killed.json');
    // A process that cannot reach the server (nothing listens on its port) makes three edits and is killed -9.
    const deadPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { Outbox, TesseraClient } from './src/client/dist/index.js';
        import { FileOutboxStore } from './src/client/dist/file-store.js';
        const [url, key, file] = process.argv.slice(1);
        const client = new TesseraClient({ url, socket: { reconnectionDelayMax: 200 } });
        const outbox = new Outbox(client, new FileOutboxStore(file));
        const id = '5b0a3f51-3c55-4d8e-9c8f-6f1b4f3bd001';
        await outbox.add(key, { op: 'create', id, type: 'text', content: { text: 'made offline' } });
        await outbox.add(key, { op: 'update', id, version: 1, content: { text: 'made offline, then edited' } });
        await outbox.add(key, { op: 'create', id: '5b0a3f51-3c55-4d8e-9c8f-6f1b4f3bd002', type: 'text', content: { text: 'second' }, afterId: id });
        console.log('stored');
        setInterval(() => undefined, 1000);
        `,
        `http://127.0.0.1:${deadPort}`,
        key,
        file,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.on('data', (data: Buffer) => data.toString().includes('stored') && resolve()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const queued = JSON.parse(readFileSync(file, 'utf8')) as Array<{ key: string }>;
    expect(queued).toHaveLength(3);

    // The first edit already reached the server once (its answer was lost): the replay must not apply it again.
    const sender = await client();
    const [create] = queued as Array<{ key: string; edit: Record<string, unknown> }>;
    const { op: _op, ...body } = create.edit;
    await sender.write('block.create', { key, ...body }, { idempotencyKey: create.key });
    expect(await seqOf(key)).toBe(1);

    const restarted = await client();
    const outbox = new Outbox(restarted, new FileOutboxStore(file));
    const outcomes = outcomesOf(outbox);
    await outbox.open();
    await outbox.settled();
    expect(outcomes.map((o) => o.kind)).toEqual(['applied', 'applied', 'applied']);
    expect(outcomes.map((o) => o.entry.key)).toEqual(queued.map((q) => q.key));
    expect(await stored(key)).toEqual([
      { id: '5b0a3f51-3c55-4d8e-9c8f-6f1b4f3bd001', content: { text: 'made offline, then edited' }, version: 2 },
      { id: '5b0a3f51-3c55-4d8e-9c8f-6f1b4f3bd002', content: { text: 'second' }, version: 1 },
    ]);
    expect(await seqOf(key)).toBe(3);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual([]);

    // Opened again, the empty file sends nothing.
    const again = new Outbox(await client(), new FileOutboxStore(file));
    await again.open();
    await again.settled();
    expect(await seqOf(key)).toBe(3);
  });

  it('rebases pending edits on incoming changes; a stale edit merges with merge: "fields" and otherwise meets a conflict', async () => {
    const key = await newSession();
    const x = await httpBlock(key, { text: 'x', title: 'X' });
    const y = await httpBlock(key, { text: 'y' });
    const z = await httpBlock(key, { text: 'z' });
    const reader = await client();
    const writer = await client(true);
    const outbox = new Outbox(writer);
    const view = await openSessionView(reader, outbox, key, { coalesce: false });
    const outcomes: Outcome[] = [];
    view.on('outcome', (outcome) => outcomes.push(outcome));

    // Offline: two merge-able updates of x (text, then a new field), two plain updates of z.
    await view.update(x.id, { content: { text: 'x mine', title: 'X' } }, { merge: 'fields' });
    await view.update(x.id, { content: { text: 'x mine', title: 'X', extra: 1 } }, { merge: 'fields' });
    await view.update(z.id, { content: { text: 'z mine' } });
    await view.update(z.id, { content: { text: 'z mine, again' } });

    // Meanwhile someone else changes x's title, y, and z's text.
    await httpPatch(key, x, { text: 'x', title: 'X theirs' });
    await httpPatch(key, y, { text: 'y theirs' });
    await httpPatch(key, z, { text: 'z theirs' });
    await until(() => view.serverBlock(z.id)?.version === 2);

    // The view: the server's state with the pending edits on top.
    expect(view.blocks.map((b) => b.content)).toEqual([
      { text: 'x mine', title: 'X theirs', extra: 1 },
      { text: 'y theirs' },
      { text: 'z mine, again' },
    ]);
    expect(view.pending()).toHaveLength(4);

    writer.socket.connect();
    await outbox.settled();
    expect(outcomes.map((o) => [o.kind, o.entry.edit.id])).toEqual([
      ['merged', x.id],
      ['applied', x.id],
      ['conflict', z.id],
      ['conflict', z.id],
    ]);
    const [merged, rebased, conflict] = outcomes;
    expect(merged.kind === 'merged' && merged.block).toMatchObject({ version: 3, content: { text: 'x mine', title: 'X theirs' } });
    // The second x edit was made on top of the first: rebased onto the merged block before it was sent.
    expect(rebased.kind === 'applied' && rebased.block).toMatchObject({
      version: 4,
      content: { text: 'x mine', title: 'X theirs', extra: 1 },
    });
    expect(conflict.kind === 'conflict' && conflict.current).toMatchObject({ id: z.id, version: 2, content: { text: 'z theirs' } });
    // Nobody's write was lost: z keeps the other person's text, and the view shows the server's blocks.
    expect(await stored(key)).toEqual([
      { id: x.id, content: { text: 'x mine', title: 'X theirs', extra: 1 }, version: 4 },
      { id: y.id, content: { text: 'y theirs' }, version: 2 },
      { id: z.id, content: { text: 'z theirs' }, version: 2 },
    ]);
    await until(() => view.block(x.id)?.version === 4);
    expect(view.blocks.map((b) => b.content)).toEqual([
      { text: 'x mine', title: 'X theirs', extra: 1 },
      { text: 'y theirs' },
      { text: 'z theirs' },
    ]);
  });

  it('folds quick updates of one block into the entry waiting behind another, never into one that may have been sent', async () => {
    const key = await newSession();
    const x = await httpBlock(key, { text: '' });
    const y = await httpBlock(key, { text: '' });
    const reader = await client();
    const writer = await client(true);
    const outbox = new Outbox(writer);
    const view = await openSessionView(reader, outbox, key);
    await view.update(x.id, { content: { text: 'h' } });
    for (const text of ['he', 'hel', 'hell', 'hello']) await view.update(y.id, { content: { text } });
    // The first entry may be in flight at any moment; the four updates of y became one entry behind it.
    expect(view.pending().map((e) => e.edit)).toEqual([
      { op: 'update', id: x.id, version: 1, content: { text: 'h' } },
      { op: 'update', id: y.id, version: 1, content: { text: 'hello' } },
    ]);
    writer.socket.connect();
    await outbox.settled();
    expect(await seqOf(key)).toBe(4);
    expect((await stored(key)).map((b) => b.content)).toEqual([{ text: 'h' }, { text: 'hello' }]);
  });
});
