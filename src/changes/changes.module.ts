import { Global, Module } from '@nestjs/common';
import { ChangeLogRetention } from './change-log.retention.js';
import { ChangePublisher } from './change.publisher.js';
import { ChangesRepository } from './changes.repository.js';
import { ChangesService } from './changes.service.js';

/** The change log and the bus its entries are announced on; every writer of a session uses it. */
@Global()
@Module({
  providers: [ChangeLogRetention, ChangePublisher, ChangesRepository, ChangesService],
  exports: [ChangeLogRetention, ChangePublisher, ChangesService],
})
export class ChangesModule {}
