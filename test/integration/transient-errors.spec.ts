import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/app-config.js';
import { PrismaService } from '../../src/database/prisma.service.js';
import { toProblem } from '../../src/errors/problem.js';
import { currentRun, ensureMigrated } from '../helpers/test-environment.js';

/**
 * Contention the database resolves by failing one side (a transaction that cannot start in
 * time, a deadlock) says nothing about the request: the caller gets 503 and retries, never a 500.
 */
describe('transient database contention', () => {
  let prisma: PrismaService;
  const table = `contention_${process.pid}`;

  beforeAll(async () => {
    await ensureMigrated();
    prisma = new PrismaService(
      loadConfig({ NODE_ENV: 'test', DATABASE_URL: currentRun().databaseUrl, DB_POOL_MAX: '2', DB_POOL_MIN: '0' }),
    );
    await prisma.$executeRawUnsafe(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
    await prisma.$executeRawUnsafe(`INSERT INTO ${table} VALUES (1), (2)`);
  });
  afterAll(async () => {
    await prisma.$executeRawUnsafe(`DROP TABLE IF EXISTS ${table}`);
    await prisma.onModuleDestroy();
  });

  it('a transaction that cannot get a connection in time is a 503', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const holders = [1, 2].map(() => prisma.$transaction(() => held, { timeout: 20_000 }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const error = await prisma
      .$transaction(() => Promise.resolve(1), { maxWait: 200 })
      .then(
        () => null,
        (e: unknown) => e,
      );
    release();
    await Promise.all(holders);
    expect(error).not.toBeNull();
    expect(toProblem(error).problem).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
  });

  it('the side of a deadlock PostgreSQL cancels is a 503', async () => {
    let bothLocked!: () => void;
    let locks = 0;
    const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
    const cross = (first: number, second: number) =>
      prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`UPDATE ${table} SET id = id WHERE id = ${first}`);
        if (++locks === 2) bothLocked();
        await barrier;
        await tx.$executeRawUnsafe(`UPDATE ${table} SET id = id WHERE id = ${second}`);
      });
    const outcomes = await Promise.allSettled([cross(1, 2), cross(2, 1)]);
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(toProblem(failed[0].reason).problem).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
  });
});
