import { createHash } from 'node:crypto';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { PrismaClient } from '../generated/prisma/client.js';

const NAMES_REMEMBERED = 2000;
const logger = new Logger('PrismaService');
const names = new Map<string, string>();

/**
 * Names each statement after its SQL text, so pg prepares it once per connection and
 * PostgreSQL can reuse the plan: the block write is one large statement whose planning
 * costs as much as its execution. The set of texts is the code's finite set of query shapes.
 */
function statementName(query: { sql: string }): string {
  let name = names.get(query.sql);
  if (!name) {
    name = `t${createHash('sha1').update(query.sql).digest('base64url').slice(0, 22)}`;
    if (names.size >= NAMES_REMEMBERED) names.clear();
    names.set(query.sql, name);
  }
  return name;
}

/** The one Prisma client of the process, on the pg driver adapter and a pool it owns (and reports on). */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  readonly pool: pg.Pool;

  constructor(@InjectConfig() config: AppConfig) {
    const pool = new pg.Pool({
      connectionString: config.DATABASE_URL,
      min: config.DB_POOL_MIN,
      max: config.DB_POOL_MAX,
      connectionTimeoutMillis: config.DB_CONNECTION_TIMEOUT,
      idleTimeoutMillis: config.DB_IDLE_TIMEOUT,
      statement_timeout: config.DB_STATEMENT_TIMEOUT || undefined,
      application_name: 'tessera',
    });
    // The pool stays ours: with the adapter disposing it, a query that comes after $disconnect
    // (a late job, a timer) would make the adapter open a fresh pool that nobody ends, and its
    // idle connections would hold the process open for DB_IDLE_TIMEOUT.
    super({ adapter: new PrismaPg(pool, { statementNameGenerator: statementName }) });
    this.pool = pool;
    // An idle connection the server ends (a restart, a terminated backend) is dropped by the pool and
    // replaced on demand; unheard, its 'error' would crash the process (the adapter listens only while connected).
    pool.on('error', (error) => logger.warn(`an idle database connection closed: ${error.message}`));
  }

  /** Ends the pool after Prisma lets go of it: a query after this fails at once instead of reconnecting. */
  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    if (!this.pool.ended) await this.pool.end();
  }
}
