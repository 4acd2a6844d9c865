import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import type { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from './prisma.service.js';

export type DbClient = Prisma.TransactionClient;

/**
 * Lets a service open a transaction and every repository called inside it join the
 * same one, without threading a `tx` argument through each signature.
 */
@Injectable()
export class TransactionHost {
  private readonly storage = new AsyncLocalStorage<DbClient>();

  constructor(private readonly prisma: PrismaService) {}

  /** The transaction in progress, else the pooled client. */
  get client(): DbClient {
    return this.storage.getStore() ?? this.prisma;
  }

  /** Runs `fn` in a transaction, or inside the caller's one when already in a transaction. */
  async run<T>(fn: () => Promise<T>, options?: { isolationLevel?: Prisma.TransactionIsolationLevel }): Promise<T> {
    if (this.storage.getStore()) return fn();
    return this.prisma.$transaction((tx) => this.storage.run(tx, fn), { maxWait: 10_000, timeout: 30_000, ...options });
  }
}
