import { expect } from '@jest/globals';
import { TesseraClient, type SessionFeed } from '../../src/client/tessera-client.js';
import { request, requestOrNoAnswer } from './test-app.js';

export interface Follower {
  client: TesseraClient;
  feed: SessionFeed;
  /** The seq the feed started at; every change after it must arrive, once, in order. */
  joinedAt: number;
  seqs: number[];
  /** Connections made, the first included: more than 1 means it resumed somewhere. */
  connects: number;
  drained: number;
}

/** A session with `writers` text blocks (one per writer), made in one batch through `url`. */
export async function sessionForWriters(
  url: string,
  token: string,
  writers: number,
): Promise<{ key: string; blocks: Array<{ id: string; version: number }> }> {
  const session = await request(url, 'POST', '/api/sessions', { token, body: { typeSlug: 'document' } });
  const key = session.body.key as string;
  const ops = Array.from({ length: writers }, (_, i) => ({ op: 'create', type: 'text', content: { text: `writer ${i}` } }));
  const created = await request(url, 'POST', `/api/sessions/${key}/blocks/batch`, { token, body: { ops } });
  return { key, blocks: created.body.items };
}

/** Typed clients following one session through `url`, recording every change's seq. */
export function startFollowers(url: string, token: string, key: string, count: number): Promise<Follower[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = new TesseraClient({ url, token });
      await client.connect();
      const feed = await client.join(key);
      const follower: Follower = { client, feed, joinedAt: feed.seq, seqs: [], connects: 1, drained: 0 };
      feed.on('change', (change) => follower.seqs.push(change.seq));
      client.socket.on('connect', () => follower.connects++);
      client.socket.on('server.draining', () => follower.drained++);
      return follower;
    }),
  );
}

/** Waits until every follower reached the session's seq, then checks each saw every change after its join, in order, once. */
export async function expectGapFree(followers: Follower[], finalSeq: number, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; followers.some((f) => f.feed.seq !== finalSeq) && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const follower of followers) {
    const expected = Array.from({ length: finalSeq - follower.joinedAt }, (_, i) => follower.joinedAt + 1 + i);
    expect(follower.seqs).toEqual(expected);
  }
}

export interface Writers {
  /** Stops after each writer's current write; resolves once all stopped. */
  stop(): Promise<void>;
  /** Writes that did not succeed, as `status body`. */
  failures: string[];
  /** Each block's last acknowledged edit. */
  acknowledged: Map<string, { version: number; text: string }>;
}

/**
 * One writer per block, editing it over HTTP continuously from the version its last write
 * was acknowledged at. With `retry`, a failed write (a dead instance, a 503) is retried
 * after re-reading the block, and a writer ends only on an acknowledged write.
 */
export function startWriters(
  url: string,
  token: string,
  key: string,
  blocks: Array<{ id: string; version: number }>,
  options: { retry?: boolean } = {},
): Writers {
  let writing = true;
  const failures: string[] = [];
  const acknowledged = new Map<string, { version: number; text: string }>();
  const call = (method: string, path: string, body?: unknown) => requestOrNoAnswer(url, method, path, { token, body });
  const loops = blocks.map(async (block) => {
    let version = block.version;
    let lastOk = true;
    for (let n = 0; writing || (options.retry && !lastOk); n++) {
      const text = `edit ${n}`;
      const res = await call('PATCH', `/api/sessions/${key}/blocks/${block.id}`, { version, content: { text } });
      lastOk = res.status === 200;
      if (lastOk) {
        version = res.body.version;
        acknowledged.set(block.id, { version, text });
        continue;
      }
      failures.push(`${res.status} ${JSON.stringify(res.body)}`);
      if (!options.retry) continue;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const current = await call('GET', `/api/sessions/${key}/blocks`);
      const stored =
        current.status === 200 ? (current.body.items as Array<{ id: string; version: number }>).find((b) => b.id === block.id) : undefined;
      if (stored) version = stored.version;
    }
  });
  return {
    failures,
    acknowledged,
    stop: async () => {
      writing = false;
      await Promise.all(loops);
    },
  };
}

/** Every block holds its writer's last acknowledged edit. */
export async function expectAcknowledgedKept(
  url: string,
  token: string,
  key: string,
  acknowledged: Writers['acknowledged'],
): Promise<void> {
  const final = (await request(url, 'GET', `/api/sessions/${key}/blocks`, { token })).body.items as Array<{
    id: string;
    version: number;
    content: { text: string };
  }>;
  expect(final.length).toBe(acknowledged.size);
  for (const block of final) expect({ version: block.version, text: block.content.text }).toEqual(acknowledged.get(block.id));
}

/**
 * A saver of the session's own state, like a writer of a block: `PATCH /api/sessions/:key
 * {version, state}` continuously from the version its last save was acknowledged at. With
 * `retry`, a failed save is retried after re-reading the session, and it ends only on an
 * acknowledged save. Its last acknowledged save is under the session's key.
 */
export function startSessionSaver(url: string, token: string, key: string, options: { retry?: boolean } = {}): Writers {
  let saving = true;
  const failures: string[] = [];
  const acknowledged = new Map<string, { version: number; text: string }>();
  const call = (method: string, path: string, body?: unknown) => requestOrNoAnswer(url, method, path, { token, body });
  const loop = (async () => {
    let version = (await call('GET', `/api/sessions/${key}`)).body.version as number;
    let lastOk = true;
    for (let n = 0; saving || (options.retry && !lastOk); n++) {
      const text = `save ${n}`;
      const res = await call('PATCH', `/api/sessions/${key}`, { version, state: { text } });
      lastOk = res.status === 200;
      if (lastOk) {
        version = res.body.version;
        acknowledged.set(key, { version, text });
        continue;
      }
      failures.push(`${res.status} ${JSON.stringify(res.body)}`);
      if (res.status === 409 && res.body.current) version = res.body.current.version;
      if (!options.retry) continue;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const current = await call('GET', `/api/sessions/${key}`);
      if (current.status === 200) version = current.body.version;
    }
  })();
  return {
    failures,
    acknowledged,
    stop: async () => {
      saving = false;
      await loop;
    },
  };
}

/** The session holds its saver's last acknowledged save. */
export async function expectSessionSaveKept(url: string, token: string, key: string, acknowledged: Writers['acknowledged']): Promise<void> {
  const final = (await request(url, 'GET', `/api/sessions/${key}`, { token })).body as { version: number; state: { text?: string } };
  expect(acknowledged.has(key)).toBe(true);
  expect({ version: final.version, text: final.state.text }).toEqual(acknowledged.get(key));
}
