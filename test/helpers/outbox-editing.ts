import { expect } from '@jest/globals';
import {
  MemoryOutboxStore,
  openSessionView,
  Outbox,
  TesseraClient,
  type Outcome,
  type OutboxEntry,
  type SessionView,
} from '../../src/client/index.js';
import { random } from './lossy-proxy.js';

/** Resolves with the entry's outcome. */
export const outcomeOf = (view: SessionView, entry: OutboxEntry) =>
  new Promise<Outcome>((resolve) => {
    const off = view.on('outcome', (outcome) => {
      if (outcome.entry.key !== entry.key) return;
      off();
      resolve(outcome);
    });
  });

export interface OutboxEditing {
  /** Where the client connects (a balancer or a proxy in front of the instances). */
  url: string;
  token: string;
  key: string;
  /** The counter blocks (content `{n}`), one picked at random (from `seed`) per increment. */
  counters: string[];
  increments: number;
  creates: number;
  seed: number;
  /** Written into each created block's content (`{by}`). */
  by: number;
  /** Every client made, for the suite to close. */
  clients: TesseraClient[];
  onIncrement?: () => void;
  onConflict?: () => void;
}

/**
 * An SDK client that increments counters and creates blocks through its outbox and session
 * view: each increment is of what the view shows, and a conflict (which brings the server's
 * block into the view) is tried again. Resolves with the ids of the blocks it created, once
 * its outbox holds nothing unsent.
 */
export async function editThroughOutbox(o: OutboxEditing): Promise<string[]> {
  const pick = random(o.seed);
  const client = new TesseraClient({ url: o.url, token: o.token, socket: { reconnectionDelay: 20, reconnectionDelayMax: 200 } });
  o.clients.push(client);
  await client.connect();
  const outbox = new Outbox(client, new MemoryOutboxStore());
  const view = await openSessionView(client, outbox, o.key);
  for (let i = 0; i < o.increments; i++) {
    const id = o.counters[Math.floor(pick() * o.counters.length)];
    for (;;) {
      const entry = await view.update(id, { content: { n: (view.block(id)!.content.n as number) + 1 } });
      const outcome = await outcomeOf(view, entry);
      if (outcome.kind === 'applied') break;
      expect(outcome.kind).toBe('conflict');
      o.onConflict?.();
    }
    o.onIncrement?.();
  }
  const created: string[] = [];
  for (let i = 0; i < o.creates; i++) {
    const entry = await view.create({ type: 'text', content: { by: o.by } });
    expect(await outcomeOf(view, entry)).toMatchObject({ kind: 'applied', block: { id: entry.edit.id } });
    created.push(entry.edit.id);
  }
  await outbox.settled();
  expect(outbox.unsent).toBe(0);
  return created;
}
