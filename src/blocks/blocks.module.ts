import { Module } from '@nestjs/common';
import { BlockWriter } from './block-writer.js';
import { BlocksController } from './blocks.controller.js';
import { BlocksRepository } from './blocks.repository.js';
import { BlocksService } from './blocks.service.js';
import { DocumentReader } from './document.reader.js';
import { DocumentsController } from './documents.controller.js';
import { DocumentsRepository } from './documents.repository.js';

@Module({
  controllers: [BlocksController, DocumentsController],
  providers: [BlockWriter, BlocksRepository, BlocksService, DocumentReader, DocumentsRepository],
  exports: [BlockWriter, BlocksService, DocumentReader],
})
export class BlocksModule {}
