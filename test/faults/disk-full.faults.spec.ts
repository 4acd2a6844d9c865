import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { sessionWithBlocks, waitForJob } from '../helpers/jobs.js';
import { isolatedRedis, startTestApp, type TestApp } from '../helpers/test-app.js';

/** Every file under a directory, recursively. */
function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * Artifacts on a full disk: a 256 KiB tmpfs as ARTIFACTS_DIR (mounting needs root, as CI
 * runs). An export larger than the space left fails with the storage error, leaves no
 * file and no row behind, and the next export that fits succeeds.
 */
describe('a full disk for artifacts', () => {
  const directory = mkdtempSync(join(tmpdir(), 'tessera-full-'));
  let app: TestApp;
  let owner: Awaited<ReturnType<typeof createUser>>;

  beforeAll(async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', directory]);
    mkdirSync(join(directory, 'artifacts'));
    app = await startTestApp({
      ...isolatedRedis('faults-disk'),
      RUN_WORKERS: 'true',
      ARTIFACTS_DIR: join(directory, 'artifacts'),
      JOB_ATTEMPTS: '2',
      JOB_BACKOFF_MS: '100',
    });
    owner = await createUser();
  });
  afterAll(async () => {
    await app?.close();
    await closeTestDb();
    execFileSync('umount', [directory]);
    rmSync(directory, { recursive: true, force: true });
  });

  it('fails the export as a storage outage, leaves nothing behind, and recovers when space allows', async () => {
    // 12 blocks of 40 KiB of random text: about 360 KiB gzipped, more than the disk holds.
    const noise = () => ({ type: 'text', content: { text: randomBytes(30 * 1024).toString('base64') } });
    const big = await sessionWithBlocks(app, owner.token, Array.from({ length: 12 }, noise));
    const res = await app.request('POST', `/api/sessions/${big}/exports`, { token: owner.token, body: { format: 'json' } });
    expect(res.status).toBe(202);
    const failed = await waitForJob(app, res.body.jobId, owner.token, ['failed'], 30_000);
    expect(failed.state).toBe('failed');
    // The storage's own words (ENOSPC, the path) are logged; callers see the catalog's.
    expect(failed.error).toEqual({ code: 'SERVICE_UNAVAILABLE', message: 'A dependency is unavailable; retry shortly.' });
    expect(filesUnder(join(directory, 'artifacts'))).toEqual([]);
    expect(await testDb().artifact.count({ where: { sessionKey: big } })).toBe(0);

    // The server kept serving meanwhile, and an export that fits goes through.
    const small = await sessionWithBlocks(app, owner.token, [{ type: 'text', content: { text: 'fits' } }]);
    const ok = await app.request('POST', `/api/sessions/${small}/exports`, { token: owner.token, body: { format: 'markdown' } });
    const done = await waitForJob(app, ok.body.jobId, owner.token, ['completed', 'failed'], 30_000);
    expect(done.state).toBe('completed');
    const files = filesUnder(join(directory, 'artifacts'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/\.gz$/);
    const download = await app.request('GET', `/api/artifacts/${done.result.artifactId}/download`, { token: owner.token });
    const content = await fetch(download.body.url.startsWith('http') ? download.body.url : `${app.url}${download.body.url}`).then((r) =>
      r.text(),
    );
    expect(content).toContain('fits');
  });
});
