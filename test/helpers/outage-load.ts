import { expect } from '@jest/globals';
import { expectAcknowledgedKept, expectSessionSaveKept, sessionForWriters } from './editing-load.js';
import { requestOrNoAnswer, type TestApp } from './test-app.js';

const RECOVERY_BUDGET_MS = 15_000;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Clients write (one block each), save the session's state and read continuously through `outage` (a dependency
 * going away and coming back). Then: every request answered (none hung past 10 s) with
 * success, a version conflict or a clear 503, never another 5xx; service was back (ready,
 * and 20 requests in a row succeeded) within 15 s of the dependency; and every block holds
 * its writer's last acknowledged edit, the session its saver's last acknowledged save.
 */
export async function editThroughOutage(app: TestApp, token: string, outage: () => Promise<void>): Promise<void> {
  const { key, blocks } = await sessionForWriters(app.url, token, 4);

  const outcomes: Array<{ at: number; status: number; code?: string }> = [];
  const acknowledged = new Map<string, { version: number; text: string }>();
  let running = true;
  const call = async (method: string, path: string, body?: unknown) => {
    const started = Date.now();
    const res = await requestOrNoAnswer(app.url, method, path, { token, body, timeoutMs: REQUEST_TIMEOUT_MS });
    outcomes.push({ at: started, status: res.status, code: res.body?.code });
    return res;
  };
  const writers = blocks.map(async (block) => {
    let version = block.version;
    for (let n = 0; running; n++) {
      const text = `edit ${n}`;
      const res = await call('PATCH', `/api/sessions/${key}/blocks/${block.id}`, { version, content: { text } });
      if (res.status === 200) {
        version = res.body.version;
        acknowledged.set(block.id, { version, text });
      } else if (res.status === 409) version = res.body.current.version;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  const savedAt = new Map<string, { version: number; text: string }>();
  const saver = (async () => {
    let version = 1;
    for (let n = 0; running; n++) {
      const text = `save ${n}`;
      const res = await call('PATCH', `/api/sessions/${key}`, { version, state: { text } });
      if (res.status === 200) {
        version = res.body.version;
        savedAt.set(key, { version, text });
      } else if (res.status === 409) version = res.body.current.version;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const readers = Array.from({ length: 2 }, async () => {
    while (running) {
      const res = await call('GET', `/api/sessions/${key}`);
      if (res.status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  await new Promise((resolve) => setTimeout(resolve, 1000));
  const downAt = Date.now();
  await outage();
  const upAt = Date.now();
  // Recovered: readiness answers 200 and the last 20 requests all succeeded.
  let recoveredAt = 0;
  while (!recoveredAt && Date.now() - upAt < RECOVERY_BUDGET_MS + 5000) {
    const ready = await fetch(`${app.url}/api/health/ready`).then((r) => r.status);
    const recent = outcomes.filter((o) => o.at > upAt).slice(-20);
    if (ready === 200 && recent.length === 20 && recent.every((o) => o.status === 200)) recoveredAt = Date.now();
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  running = false;
  await Promise.all([...writers, saver, ...readers]);

  const unexpected = outcomes.filter(
    (o) => !(o.status === 200 || o.status === 409 || (o.status === 503 && o.code === 'SERVICE_UNAVAILABLE')),
  );
  expect(unexpected).toEqual([]);
  expect(outcomes.filter((o) => o.at > downAt && o.at < upAt).length).toBeGreaterThan(0);
  expect(recoveredAt).toBeGreaterThan(0);
  expect(recoveredAt - upAt).toBeLessThan(RECOVERY_BUDGET_MS);
  await expectAcknowledgedKept(app.url, token, key, acknowledged);
  await expectSessionSaveKept(app.url, token, key, savedAt);
}
