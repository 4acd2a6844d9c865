import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { AdminController } from './admin.controller.js';

@Module({ imports: [AuthModule, SessionsModule], controllers: [AdminController] })
export class AdminModule {}
