import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import type { Plan } from '../generated/prisma/enums.js';
import type { User } from '../generated/prisma/client.js';

@Injectable()
export class UsersRepository {
  constructor(private readonly db: TransactionHost) {}

  /** Creates the user, or returns null when the email is taken (no exception, no check-then-insert). */
  async create(data: { email: string; passwordHash: string; displayName: string }): Promise<User | null> {
    const rows = await this.db.client.$queryRaw<{ id: string }[]>`
      INSERT INTO users (id, email, password_hash, display_name, updated_at)
      VALUES (gen_random_uuid(), ${data.email}, ${data.passwordHash}, ${data.displayName}, now())
      ON CONFLICT (email) DO NOTHING
      RETURNING id`;
    return rows[0] ? this.findById(rows[0].id) : null;
  }

  findById(id: string): Promise<User | null> {
    return this.db.client.user.findUnique({ where: { id } });
  }

  findByEmail(email: string): Promise<User | null> {
    return this.db.client.user.findUnique({ where: { email } });
  }

  async updatePlan(id: string, plan: Plan): Promise<User | null> {
    const { count } = await this.db.client.user.updateMany({ where: { id }, data: { plan } });
    return count ? this.findById(id) : null;
  }
}
