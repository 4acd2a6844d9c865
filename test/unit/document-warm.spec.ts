import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { CommittedChange } from '../../src/events/app-events.js';
import { Metrics } from '../../src/metrics/metrics.service.js';
import { DocumentWarmListener } from '../../src/sessions/document-warm.listener.js';
import type { DocumentReader } from '../../src/sessions/document.reader.js';

/** A listener whose reader records which sessions it was asked to warm, and when. */
function listener() {
  const warmed: Array<{ key: string; at: number }> = [];
  const reader = {
    warm: (key: string) => {
      warmed.push({ key, at: Date.now() });
      return Promise.resolve(1);
    },
  } as unknown as DocumentReader;
  return { warm: new DocumentWarmListener(reader, new Metrics()), warmed };
}
const change = (sessionKey: string) => ({ sessionKey }) as CommittedChange;

describe('cache warming after a burst of changes', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('loads a session once, half a second after its last change, and nothing while the changes go on', async () => {
    const { warm, warmed } = listener();
    const start = Date.now();
    for (let i = 0; i < 20; i++) {
      warm.onCommitted(change('AAA'));
      await jest.advanceTimersByTimeAsync(200);
    }
    expect(warmed).toEqual([]);
    await jest.advanceTimersByTimeAsync(300);
    expect(warmed).toEqual([{ key: 'AAA', at: start + 19 * 200 + 500 }]);
    await jest.advanceTimersByTimeAsync(5000);
    expect(warmed).toHaveLength(1);
    // The next burst warms again.
    warm.onCommitted(change('AAA'));
    await jest.advanceTimersByTimeAsync(500);
    expect(warmed).toHaveLength(2);
  });

  it('warms each session of a burst across sessions once, and nothing after it stopped', async () => {
    const { warm, warmed } = listener();
    for (const key of ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF']) {
      warm.onCommitted(change(key));
      warm.onCommitted(change(key));
    }
    await jest.advanceTimersByTimeAsync(600);
    expect(warmed.map((w) => w.key).sort()).toEqual(['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF']);
    warm.onModuleDestroy();
    warm.onCommitted(change('GGG'));
    await jest.advanceTimersByTimeAsync(1000);
    expect(warmed).toHaveLength(6);
  });
});
