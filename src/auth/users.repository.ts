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

  /** Inside a transaction: holds the user's row until commit (a session they create meanwhile waits, then fails its owner check); false when there is no such user. */
  async lockForDeletion(id: string): Promise<boolean> {
    const rows = await this.db.client.$queryRaw<unknown[]>`SELECT 1 FROM users WHERE id = ${id}::uuid FOR UPDATE`;
    return rows.length > 0;
  }

  /** Deletes the sessions the user owns (their blocks, log and snapshots go with them) and returns their keys. */
  async deleteOwnedSessions(id: string): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<Array<{ key: string }>>`DELETE FROM sessions WHERE owner_id = ${id}::uuid RETURNING key`;
    return rows.map((row) => row.key);
  }

  /** The sessions the user is a member of (their membership rows go with the user). */
  async memberships(id: string): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<Array<{ sessionId: string }>>`
      SELECT session_id AS "sessionId" FROM session_members WHERE user_id = ${id}::uuid`;
    return rows.map((row) => row.sessionId);
  }

  async delete(id: string): Promise<boolean> {
    const { count } = await this.db.client.user.deleteMany({ where: { id } });
    return count > 0;
  }

  async updatePlan(id: string, plan: Plan): Promise<User | null> {
    const { count } = await this.db.client.user.updateMany({ where: { id }, data: { plan } });
    return count ? this.findById(id) : null;
  }
}
