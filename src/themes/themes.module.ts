import { Module } from '@nestjs/common';
import { AdminThemesController, ThemesController } from './themes.controller.js';
import { ThemesRepository } from './themes.repository.js';
import { ThemesService } from './themes.service.js';

import { CacheModule } from '../cache/cache.module.js';

@Module({
  imports: [CacheModule],
  controllers: [ThemesController, AdminThemesController],
  providers: [ThemesRepository, ThemesService],
  exports: [ThemesService],
})
export class ThemesModule {}
