import { Global, Module } from '@nestjs/common';
import { DatabaseMetrics } from './database.metrics.js';
import { PrismaService } from './prisma.service.js';
import { TransactionHost } from './transaction-host.js';

@Global()
@Module({
  providers: [PrismaService, TransactionHost, DatabaseMetrics],
  exports: [PrismaService, TransactionHost],
})
export class DatabaseModule {}
