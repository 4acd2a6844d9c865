import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import type { Prisma, Theme } from '../generated/prisma/client.js';

@Injectable()
export class ThemesRepository {
  constructor(private readonly db: TransactionHost) {}

  list(limit: number, afterName?: string): Promise<Theme[]> {
    return this.db.client.theme.findMany({
      where: afterName === undefined ? undefined : { name: { gt: afterName } },
      orderBy: { name: 'asc' },
      take: limit,
    });
  }

  findById(id: string): Promise<Theme | null> {
    return this.db.client.theme.findUnique({ where: { id } });
  }

  /** Null when the name is taken. */
  async create(name: string, tokens: Prisma.InputJsonValue): Promise<Theme | null> {
    const rows = await this.db.client.$queryRaw<{ id: string }[]>`
      INSERT INTO themes (id, name, tokens) VALUES (gen_random_uuid(), ${name}, ${JSON.stringify(tokens)}::jsonb)
      ON CONFLICT (name) DO NOTHING RETURNING id`;
    return rows[0] ? this.findById(rows[0].id) : null;
  }
}
