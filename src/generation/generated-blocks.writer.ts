import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { BlocksService } from '../blocks/blocks.service.js';
import type { SessionRef } from '../sessions/document.reader.js';
import { derivedUuid } from '../common/ids.js';
import { requireJobSession } from '../queues/job-session.js';
import type { RequestedJob } from '../queues/queue.names.js';
import { AppError } from '../errors/app-error.js';
import { SnapshotsService } from '../snapshots/snapshots.service.js';
import type { GeneratedBlock } from './providers/text-provider.js';
import { SessionAccess } from '../sessions/session-access.service.js';

/**
 * Writes a job's output through the normal versioned block path (so it is broadcast, counted
 * and refused like anyone's write), in one batch under the requester's identity and rights.
 * The block ids derive from the job's seed: a retry after the batch committed finds its
 * first id taken and knows the work is done, so nothing is written twice.
 */
@Injectable()
export class GeneratedBlocksWriter {
  constructor(
    private readonly blocks: BlocksService,
    private readonly snapshots: SnapshotsService,
    private readonly access: SessionAccess,
  ) {}

  /**
   * Checked before a provider is asked anything: the requester must still be able to write here,
   * and, for a job, the key must still name the job's own session.
   */
  async checkWritable(principal: Principal, key: string, job: Partial<RequestedJob> = {}): Promise<SessionRef> {
    return requireJobSession(await this.access.require(principal, key, 'write'), job);
  }

  idsFor(seed: string, count: number): string[] {
    return Array.from({ length: count }, (_, i) => derivedUuid(seed, String(i)));
  }

  /** A snapshot taken before a job writes, so its output can be undone by a restore. */
  async snapshotBefore(key: string, jobId: string): Promise<string> {
    return (await this.snapshots.takeAutomatic(key, `Before generation ${jobId}`)).id;
  }

  /** Appends the blocks (after `afterId` when given, else at the end); false when an earlier attempt already did. */
  async write(principal: Principal, key: string, ids: string[], blocks: GeneratedBlock[], afterId?: string): Promise<boolean> {
    if (blocks.length === 0) return false;
    const ops = blocks.map((block, i) => ({
      op: 'create' as const,
      id: ids[i],
      type: block.type,
      content: block.content,
      ...(i > 0 ? { afterId: ids[i - 1] } : afterId ? { afterId } : {}),
    }));
    try {
      await this.blocks.batch(principal, key, ops);
      return true;
    } catch (error) {
      if (error instanceof AppError && error.code === 'BLOCK_ID_TAKEN' && error.extensions.opIndex === 0) return false;
      throw error;
    }
  }
}
