import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/app-config.js';
import { PrismaService } from '../../src/database/prisma.service.js';
import { currentRun, ensureMigrated } from '../helpers/test-environment.js';

describe('PrismaService shutdown', () => {
  it('ends its pool: a query that comes after shutdown fails at once instead of opening connections nobody closes', async () => {
    const run = currentRun();
    await ensureMigrated();
    const prisma = new PrismaService(loadConfig({ NODE_ENV: 'test', DATABASE_URL: run.databaseUrl, DB_POOL_MIN: '1' }));
    await expect(prisma.$queryRaw`SELECT 1 AS one`).resolves.toEqual([{ one: 1 }]);

    await prisma.onModuleDestroy();

    expect(prisma.pool.ended).toBe(true);
    // A late job or timer querying after the app closed: before, the adapter opened a fresh pool
    // here, whose idle connections kept the process alive for DB_IDLE_TIMEOUT.
    await expect(prisma.$queryRaw`SELECT 1 AS one`).rejects.toThrow();
    expect(prisma.pool.totalCount).toBe(0);
  });

  it('survives the server ending an idle connection while it shuts down: the pool hears the error and drops the connection', async () => {
    const run = currentRun();
    await ensureMigrated();
    const prisma = new PrismaService(loadConfig({ NODE_ENV: 'test', DATABASE_URL: run.databaseUrl, DB_POOL_MIN: '1' }));
    const [{ pid }] = await prisma.$queryRaw<Array<{ pid: number }>>`SELECT pg_backend_pid() AS pid`;
    // Between Prisma letting go of the pool and the pool's end nobody else listens to its errors:
    // a database dropped or restarted at that moment crashed the process with an unhandled 'error'.
    await prisma.$disconnect();
    expect(prisma.pool.idleCount).toBe(1);
    const admin = new PrismaService(loadConfig({ NODE_ENV: 'test', DATABASE_URL: run.databaseUrl }));
    try {
      await admin.$queryRaw`SELECT pg_terminate_backend(${pid}::int)`;
    } finally {
      await admin.onModuleDestroy();
    }
    const deadline = Date.now() + 5000;
    while (prisma.pool.totalCount > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(prisma.pool.totalCount).toBe(0);
    await prisma.onModuleDestroy();
  });
});
