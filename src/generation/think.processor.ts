import { Inject, Injectable } from '@nestjs/common';
import { WaitingChildrenError, type Job } from 'bullmq';
import { derivedUuid } from '../common/ids.js';
import { priorityOf } from '../queues/queue.options.js';
import { JobName, type GenerateJob, type ThinkJob } from '../queues/queue.names.js';
import { QueueRegistry } from '../queues/queue.registry.js';
import { JobProcessor, type JobHandler, type JobRun } from '../queues/job-handler.js';
import type { GenerateResult } from './generate.processor.js';
import { GeneratedBlocksWriter } from './generated-blocks.writer.js';
import { TEXT_PROVIDER, type TextProvider } from './providers/text-provider.js';

type ThinkState = ThinkJob & { sections?: string[]; headingIds?: string[]; snapshotId?: string };

export interface ThinkResult {
  sections: Array<{ heading: string; headingId: string; jobId: string; blockIds: string[] }>;
  snapshotId: string | null;
}

/**
 * A goal into a document, as a BullMQ flow: this job plans the sections and writes their
 * headings, then adds one `ai-generation` child per section and waits; when every child has
 * completed it runs again and completes with what they wrote. A child that fails for good
 * fails the parent. Child job and block ids derive from the job's seed, so a retried
 * planning step re-finds its children and headings instead of adding new ones.
 */
@Injectable()
@JobProcessor()
export class ThinkProcessor implements JobHandler<typeof JobName.Think> {
  readonly job = JobName.Think;

  constructor(
    private readonly writer: GeneratedBlocksWriter,
    private readonly queues: QueueRegistry,
    @Inject(TEXT_PROVIDER) private readonly provider: TextProvider,
  ) {}

  async handle(job: Job<ThinkState>, run: JobRun): Promise<ThinkResult> {
    if (job.data.step !== 'waiting') await this.plan(job, run);
    const data = job.data;
    const values = (await job.getChildrenValues()) as Record<string, GenerateResult>;
    const byJobId = new Map(Object.entries(values).map(([key, value]) => [key.slice(key.lastIndexOf(':') + 1), value]));
    return {
      sections: (data.sections ?? []).map((heading, i) => {
        const jobId = childJobId(data.seed, i);
        return { heading, headingId: data.headingIds![i], jobId, blockIds: byJobId.get(jobId)?.blockIds ?? [] };
      }),
      snapshotId: data.snapshotId ?? null,
    };
  }

  private async plan(job: Job<ThinkState>, run: JobRun): Promise<void> {
    const { sessionKey, principal, goal, seed } = job.data;
    await this.writer.checkWritable(principal, sessionKey, job.data);
    const snapshotId = job.data.snapshotId ?? (await this.writer.snapshotBefore(sessionKey, job.id!));
    const sections = job.data.sections ?? (await this.provider.plan(goal, run.signal));
    const headingIds = this.writer.idsFor(derivedUuid(seed, 'headings'), sections.length);
    await job.updateData({ ...job.data, snapshotId, sections, headingIds });
    await this.writer.write(
      principal,
      sessionKey,
      headingIds,
      sections.map((text) => ({ type: 'heading', content: { text, level: 2 } })),
    );
    await job.updateProgress(30);
    const children = sections.map((heading, index) => ({
      name: JobName.Generate,
      data: {
        sessionKey,
        sessionId: job.data.sessionId,
        principal,
        requestHash: job.data.requestHash,
        prompt: `${goal}\n\nSection: ${heading}`,
        mode: 'blocks',
        seed: derivedUuid(seed, 'section', String(index)),
        afterId: headingIds[index],
        section: { index, heading },
      } satisfies GenerateJob,
      opts: {
        jobId: childJobId(seed, index),
        priority: priorityOf(principal),
        parent: { id: job.id!, queue: job.queueQualifiedName },
        failParentOnFailure: true,
      },
    }));
    await this.queues.get('ai-generation').addBulk(children);
    await job.updateData({ ...job.data, snapshotId, sections, headingIds, step: 'waiting' });
    if (await job.moveToWaitingChildren(run.token)) throw new WaitingChildrenError();
  }
}

const childJobId = (seed: string, index: number) => derivedUuid(seed, 'child', String(index));
