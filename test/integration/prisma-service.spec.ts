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
});
