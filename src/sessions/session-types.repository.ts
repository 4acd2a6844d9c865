import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';

@Injectable()
export class SessionTypesRepository {
  constructor(private readonly db: TransactionHost) {}

  async listSlugs(): Promise<string[]> {
    const rows = await this.db.client.sessionType.findMany({ select: { slug: true }, orderBy: { slug: 'asc' } });
    return rows.map((r) => r.slug);
  }

  /** Registers types that are missing; concurrent boots of several instances are harmless. */
  async ensure(slugs: string[]): Promise<void> {
    if (!slugs.length) return;
    await this.db.client.sessionType.createMany({
      data: slugs.map((slug) => ({ slug, name: slug.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase()) })),
      skipDuplicates: true,
    });
  }
}
