import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { CacheModule } from '../cache/cache.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { AdminController } from './admin.controller.js';
import { CacheController } from './cache.controller.js';

@Module({ imports: [AuthModule, CacheModule, SessionsModule], controllers: [AdminController, CacheController] })
export class AdminModule {}
