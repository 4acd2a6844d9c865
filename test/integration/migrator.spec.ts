import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { applyMigrations, MIGRATIONS_DIR } from '../../src/database/migrator.js';
import { currentRun } from '../helpers/test-environment.js';

describe('migration runner', () => {
  const run = currentRun();
  const name = `${run.databaseName}_migrate`;
  const admin = new pg.Client({ connectionString: run.adminUrl });
  const url = new URL(run.databaseUrl);
  url.pathname = `/${name}`;
  const query = async <T extends pg.QueryResultRow>(sql: string) => {
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      return (await client.query<T>(sql)).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
  afterAll(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  });

  it('applies every migration once, under concurrent runners, with Prisma bookkeeping', async () => {
    const results = await Promise.all([1, 2, 3].map(() => applyMigrations(url.toString())));
    const applied = results.flatMap((r) => r.applied);
    const folders = (await import('node:fs'))
      .readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(applied.sort()).toEqual(folders);
    const rows = await query<{
      migration_name: string;
      checksum: string;
      finished_at: Date | null;
      applied_steps_count: number;
      rolled_back_at: Date | null;
    }>('SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ORDER BY migration_name');
    expect(rows.map((r) => r.migration_name)).toEqual(folders);
    for (const row of rows) {
      const sql = readFileSync(join(MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
      expect(row.rolled_back_at).toBeNull();
    }
    expect((await applyMigrations(url.toString())).applied).toEqual([]);
    const types = await query<{ slug: string }>('SELECT slug FROM session_types ORDER BY slug');
    expect(types.map((t) => t.slug)).toEqual(['checklist', 'document', 'presentation']);
  });

  it('records a failing migration and refuses to go past it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-migrations-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    mkdirSync(join(dir, '29991231000000_broken'));
    writeFileSync(join(dir, '29991231000000_broken', 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;');
    await expect(applyMigrations(url.toString(), undefined, dir)).rejects.toThrow(/29991231000000_broken failed/);
    const rows = await query<{ finished_at: Date | null; logs: string | null }>(
      "SELECT finished_at, logs FROM _prisma_migrations WHERE migration_name = '29991231000000_broken'",
    );
    expect(rows).toEqual([{ finished_at: null, logs: expect.stringMatching(/no_such_table/) }]);
    const tables = await query("SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'");
    expect(tables).toHaveLength(0);
    await expect(applyMigrations(url.toString(), undefined, dir)).rejects.toThrow(/failed earlier/);
  });
});
