import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from './prisma.service.js';

export type DbClient = Prisma.TransactionClient;

interface TransactionContext {
  client: DbClient;
  afterCommit: Array<() => Promise<void>>;
  /** Names the changes this transaction writes, so they are undone as one step. */
  step: string;
}

/**
 * Lets a service open a transaction and every repository called inside it join the
 * same one, without threading a `tx` argument through each signature.
 */
@Injectable()
export class TransactionHost {
  private readonly storage = new AsyncLocalStorage<TransactionContext>();

  constructor(private readonly prisma: PrismaService) {}

  /** The transaction in progress, else the pooled client. */
  get client(): DbClient {
    return this.storage.getStore()?.client ?? this.prisma;
  }

  /** True inside `run`: a failed statement there has aborted the transaction, so it cannot be retried alone. */
  get active(): boolean {
    return this.storage.getStore() !== undefined;
  }

  /** The step id of the transaction in progress (every change it writes carries it), else null. */
  get step(): string | null {
    return this.storage.getStore()?.step ?? null;
  }

  /**
   * Runs `fn` in a transaction, or inside the caller's one when already in a transaction.
   * Tasks queued with `afterCommit` start in order once it has committed, all in the same
   * turn (so the changes of one transaction leave together, e.g. in one broadcast per
   * session), and are all awaited: the first failure is thrown once every task has ended.
   */
  async run<T>(fn: () => Promise<T>, options?: { isolationLevel?: Prisma.TransactionIsolationLevel }): Promise<T> {
    if (this.storage.getStore()) return fn();
    const afterCommit: TransactionContext['afterCommit'] = [];
    const result = await this.prisma.$transaction((client) => this.storage.run({ client, afterCommit, step: randomUUID() }, fn), {
      maxWait: 10_000,
      timeout: 30_000,
      ...options,
    });
    const failed = (await Promise.allSettled(afterCommit.map((task) => task()))).find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    return result;
  }

  /** Runs `task` once the current transaction commits (now, outside a transaction); dropped on rollback. */
  async afterCommit(task: () => Promise<void>): Promise<void> {
    const context = this.storage.getStore();
    if (context) context.afterCommit.push(task);
    else await task();
  }
}
