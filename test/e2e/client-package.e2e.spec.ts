import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeTestDb, createUser, testDb } from '../helpers/factories.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const ROOT = resolve('.');
const PACKAGE = join(ROOT, 'src', 'client');

/** A consumer of the packed client: a plain ESM script in a directory of its own. */
const SCRIPT = `
import { MemoryOutboxStore, Outbox, TesseraClient, openSessionView } from '@tessera/client';
import { FileOutboxStore } from '@tessera/client/file-store';
const [url, token, key, file] = process.argv.slice(2);
const client = await new TesseraClient({ url, token }).connect();
const outbox = new Outbox(client, new FileOutboxStore(file));
const view = await openSessionView(client, outbox, key);
const outcomes = [];
view.on('outcome', (outcome) => outcomes.push(outcome.kind));
const entry = await view.create({ type: 'text', content: { text: 'from the package' } });
await outbox.settled();
console.log(JSON.stringify({ id: entry.edit.id, outcomes, blocks: view.blocks.map((b) => b.content.text), memory: typeof MemoryOutboxStore }));
client.close();
`;

/** The same consumer in TypeScript: the packed declarations must type-check on their own. */
const TYPED = `
import { Outbox, TesseraClient, type Outcome, type SyncStatus } from '@tessera/client';
import { FileOutboxStore } from '@tessera/client/file-store';
const client = new TesseraClient({ url: 'http://localhost:1' });
const outbox = new Outbox(client, new FileOutboxStore('outbox.json'));
outbox.on('outcome', (outcome: Outcome) => outcome.kind satisfies 'applied' | 'merged' | 'conflict' | 'rejected');
outbox.on('status', ({ status, unsent }: { status: SyncStatus; unsent: number }) => [status, unsent]);
`;

describe('the client package', () => {
  let app: TestApp;
  let scratch: string;

  beforeAll(async () => {
    app = await startTestApp();
    scratch = mkdtempSync(join(tmpdir(), 'tessera-client-package-'));
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.client.json'], { cwd: ROOT });
  }, 120_000);
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await app.close();
    await closeTestDb();
  });

  it('packs into a tarball that a plain Node.js ESM script installs, imports and edits a session with', async () => {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: PACKAGE, encoding: 'utf8' }),
    ) as [{ filename: string; files: Array<{ path: string }> }];
    const files = packed[0].files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/file-store.js']));
    // Compiled output only: no TypeScript sources, no tests.
    expect(files.filter((f) => !/^(dist\/[\w-]+\.(js|d\.ts)|package\.json|README\.md)$/.test(f))).toEqual([]);

    // Installed the way npm lays a package out; socket.io-client is the one dependency, taken from this repository.
    const consumer = join(scratch, 'consumer');
    const installed = join(consumer, 'node_modules', '@tessera', 'client');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(scratch, packed[0].filename), '-C', installed, '--strip-components=1']);
    symlinkSync(join(ROOT, 'node_modules', 'socket.io-client'), join(consumer, 'node_modules', 'socket.io-client'));
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));

    // The declarations reference nothing outside the package.
    for (const file of readdirSync(join(installed, 'dist')).filter((f) => f.endsWith('.d.ts'))) {
      expect(readFileSync(join(installed, 'dist', file), 'utf8')).not.toMatch(/from '\.\.\//);
    }
    writeFileSync(join(consumer, 'typed.ts'), TYPED);
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [] },
        files: ['typed.ts'],
      }),
    );
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: consumer });

    const user = await createUser();
    const key = (await app.request('POST', '/api/sessions', { body: { typeSlug: 'document' }, token: user.token })).body.key as string;
    writeFileSync(join(consumer, 'edit.mjs'), SCRIPT);
    // Run asynchronously: the server answering it lives in this process.
    const { stdout: output } = await promisify(execFile)(
      process.execPath,
      ['edit.mjs', app.url, user.token, key, join(consumer, 'outbox.json')],
      {
        cwd: consumer,
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
        timeout: 30_000,
      },
    );
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as { id: string; outcomes: string[]; blocks: string[]; memory: string };
    expect(result).toEqual({ id: expect.any(String), outcomes: ['applied'], blocks: ['from the package'], memory: 'function' });
    expect(await testDb().block.findUnique({ where: { id: result.id } })).toMatchObject({
      content: { text: 'from the package' },
      version: 1,
    });
    // The outcome is known, so the entry left the file.
    expect(JSON.parse(readFileSync(join(consumer, 'outbox.json'), 'utf8'))).toEqual([]);
  }, 120_000);
});
