import { Module } from '@nestjs/common';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { DeletedMemberListener } from './deleted-member.listener.js';
import { InvitesRepository } from './invites.repository.js';
import { InvitesService } from './invites.service.js';
import { InviteAcceptController, MembersController } from './members.controller.js';
import { MembersRepository } from './members.repository.js';
import { MembersService } from './members.service.js';

@Module({
  imports: [RateLimitModule, SessionsModule],
  controllers: [MembersController, InviteAcceptController],
  providers: [DeletedMemberListener, InvitesRepository, InvitesService, MembersRepository, MembersService],
})
export class MembersModule {}
