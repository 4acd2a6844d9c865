import { Injectable, Logger } from '@nestjs/common';
import { OnAppEvent, type UserDeletedEvent } from '../events/app-events.js';
import { MembersService } from './members.service.js';

/**
 * A deleted user leaves every session they were a member of, each as a `member.removed`
 * change (seq'd, logged and broadcast like an owner's removal), so they no longer count
 * toward the session's member limit or ride on its row.
 */
@Injectable()
export class DeletedMemberListener {
  private readonly logger = new Logger(DeletedMemberListener.name);

  constructor(private readonly members: MembersService) {}

  @OnAppEvent('user.deleted')
  async onDeleted(event: UserDeletedEvent): Promise<void> {
    for (const sessionId of event.memberOf) {
      try {
        await this.members.dropDeletedUser(sessionId, event.userId, event.actor);
      } catch (error) {
        this.logger.error(`removing deleted user ${event.userId} from session ${sessionId} failed: ${(error as Error).message}`);
      }
    }
  }
}
