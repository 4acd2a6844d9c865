import { Injectable } from '@nestjs/common';
import { WebhooksRepository } from './webhooks.repository.js';

/** How long an answer is trusted on an instance that did not see the webhook change itself. */
/** How long an instance trusts what it read; a lane that just delivered is looked at again after it (see the deliverer). */
export const COVERAGE_TRUSTED_MS = 2000;
/** Owners remembered at most; past that the memory starts over (a miss costs one query). */
const MAX_OWNERS = 10_000;

/**
 * Whether a committed change may have webhook lanes to kick, known in memory: per session
 * owner, whether an enabled webhook of `change` is theirs or an operator's. A change of a
 * session no webhook covers then costs no statement at all after its commit.
 *
 * Only the kick rides on this answer, never a delivery: a change opens its lanes in its own
 * transaction, so a stale "no" on another instance (for at most COVERAGE_TRUSTED_MS after a webhook is
 * created there) delays a delivery until the lane's next kick or the sweep, and loses nothing.
 * This instance forgets its answers whenever it creates or changes a webhook.
 */
@Injectable()
export class WebhookCoverage {
  private readonly owners = new Map<string, { covered: boolean; until: number }>();

  constructor(private readonly webhooks: WebhooksRepository) {}

  async covers(ownerId: string | null): Promise<boolean> {
    const key = ownerId ?? '';
    const known = this.owners.get(key);
    if (known && known.until > Date.now()) return known.covered;
    const covered = await this.webhooks.anyCovering(ownerId);
    if (this.owners.size >= MAX_OWNERS) this.owners.clear();
    this.owners.set(key, { covered, until: Date.now() + COVERAGE_TRUSTED_MS });
    return covered;
  }

  /** A webhook was created or changed here: every answer is asked again (an operator's covers every owner). */
  forget(): void {
    this.owners.clear();
  }
}
