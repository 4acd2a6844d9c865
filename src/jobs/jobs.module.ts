import { Module } from '@nestjs/common';
import { QueuesModule } from '../queues/queues.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { JobsController } from './jobs.controller.js';
import { JobsService } from './jobs.service.js';

/** What a caller may see of the jobs they asked for: `GET /api/jobs/:id`. */
@Module({ imports: [QueuesModule, SessionsModule], controllers: [JobsController], providers: [JobsService] })
export class JobsModule {}
