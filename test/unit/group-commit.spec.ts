import { describe, expect, it } from '@jest/globals';
import { GroupCommit } from '../../src/database/group-commit.js';

interface Item {
  key: string;
  value: number;
}

/** A GroupCommit whose statements are recorded; `failWhen` makes a whole batch (and that item alone) throw. */
function recorder(options: { maxBatch?: number; maxWaitMs?: number; failWhen?: (item: Item) => boolean } = {}) {
  const batches: Item[][] = [];
  const alone: Item[] = [];
  const fails = options.failWhen ?? (() => false);
  const commit = new GroupCommit<Item, string>({
    maxBatch: options.maxBatch ?? 10,
    maxWaitMs: options.maxWaitMs ?? 5,
    keyOf: (item) => item.key,
    applyAll: (items) => {
      batches.push(items);
      if (items.some(fails)) return Promise.reject(new Error('the statement failed'));
      return Promise.resolve(items.map((item) => `${item.key}=${item.value}`));
    },
    applyOne: (item) => {
      alone.push(item);
      if (fails(item)) return Promise.reject(new Error(`item ${item.key} is bad`));
      return Promise.resolve(`${item.key}=${item.value} alone`);
    },
  });
  return { commit, batches, alone };
}

describe('GroupCommit', () => {
  it('applies the items of one tick in one batch, each caller getting its own result', async () => {
    const { commit, batches } = recorder();
    const results = await Promise.all([1, 2, 3].map((n) => commit.submit({ key: `k${n}`, value: n })));
    expect(results).toEqual(['k1=1', 'k2=2', 'k3=3']);
    expect(batches).toHaveLength(1);
  });

  it('never puts two items with the same key in one batch: the later one goes in the next', async () => {
    const { commit, batches } = recorder();
    const results = await Promise.all([
      commit.submit({ key: 'a', value: 1 }),
      commit.submit({ key: 'a', value: 2 }),
      commit.submit({ key: 'b', value: 3 }),
    ]);
    expect(results).toEqual(['a=1', 'a=2 alone', 'b=3']);
    expect(batches.map((b) => b.map((i) => i.value))).toEqual([[1, 3]]);
  });

  it('sends a full batch at once and the rest in the next', async () => {
    const { commit, batches } = recorder({ maxBatch: 2, maxWaitMs: 60_000 });
    const results = await Promise.all([1, 2, 3, 4].map((n) => commit.submit({ key: `k${n}`, value: n })));
    expect(results).toEqual(['k1=1', 'k2=2', 'k3=3', 'k4=4']);
    expect(batches.map((b) => b.length)).toEqual([2, 2]);
  });

  it('applies a failed batch one item at a time: only the item at fault fails', async () => {
    const { commit, alone } = recorder({ failWhen: (item) => item.key === 'bad' });
    const results = await Promise.allSettled(['x', 'bad', 'y'].map((key, value) => commit.submit({ key, value })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('item bad is bad');
    expect(alone.map((i) => i.key)).toEqual(['x', 'bad', 'y']);
  });

  it('with a batch size of 1 applies every item alone, without waiting', async () => {
    const { commit, batches, alone } = recorder({ maxBatch: 1, maxWaitMs: 60_000 });
    expect(await commit.submit({ key: 'a', value: 1 })).toBe('a=1 alone');
    expect(batches).toHaveLength(0);
    expect(alone).toHaveLength(1);
  });

  it('drain applies what waits and resolves once it has settled', async () => {
    const { commit } = recorder({ maxWaitMs: 60_000 });
    const pending = commit.submit({ key: 'a', value: 1 });
    await commit.drain();
    await expect(pending).resolves.toBe('a=1 alone');
  });
});
