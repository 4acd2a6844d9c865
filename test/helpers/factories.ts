import { randomUUID } from 'node:crypto';
import { JwtService } from '@nestjs/jwt';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import type { Plan } from '../../src/generated/prisma/enums.js';
import { JWT_SECRET } from './test-app.js';
import { currentRun } from './test-environment.js';

let prisma: PrismaClient | undefined;

/** Direct database access for fixtures and for checking what was stored. */
export function testDb(): PrismaClient {
  prisma ??= new PrismaClient({ adapter: new PrismaPg({ connectionString: currentRun().databaseUrl, max: 4 }) });
  return prisma;
}

export async function closeTestDb(): Promise<void> {
  await prisma?.$disconnect();
  prisma = undefined;
}

const jwt = new JwtService({ secret: JWT_SECRET, signOptions: { algorithm: 'HS256', expiresIn: 3600 } });

/** A user row written straight through Prisma, and an access token for it. */
export async function createUser(options: { plan?: Plan; displayName?: string } = {}) {
  const id = randomUUID();
  const user = await testDb().user.create({
    data: {
      id,
      email: `user-${id}@example.test`,
      passwordHash: 'scrypt$unusable',
      displayName: options.displayName ?? `User ${id.slice(0, 4)}`,
      plan: options.plan ?? 'FREE',
    },
  });
  return { user, token: await jwt.signAsync({ sub: user.id, plan: user.plan }) };
}

export function signToken(claims: Record<string, unknown>, secret = JWT_SECRET, expiresIn = 3600): Promise<string> {
  return new JwtService({ secret }).signAsync(claims, { algorithm: 'HS256', expiresIn });
}
