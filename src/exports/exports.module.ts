import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { BlocksModule } from '../blocks/blocks.module.js';
import { ExportProcessor } from './export.processor.js';
import { ExportsController } from './exports.controller.js';
import { ExportsService } from './exports.service.js';

@Module({
  imports: [BlocksModule, ArtifactsModule],
  controllers: [ExportsController],
  providers: [ExportsService, ExportProcessor],
  exports: [ExportProcessor],
})
export class ExportsModule {}
