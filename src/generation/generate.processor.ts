import { Inject, Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { JobName, type GenerateJob } from '../queues/queue.names.js';
import { JobProcessor, type JobHandler, type JobRun } from '../queues/job-handler.js';
import { GeneratedBlocksWriter } from './generated-blocks.writer.js';
import { TEXT_PROVIDER, type TextProvider } from './providers/text-provider.js';

export interface GenerateResult {
  mode: GenerateJob['mode'];
  blockIds: string[];
  /** The automatic snapshot taken before writing (none for a section of a thinking job: its parent took one). */
  snapshotId: string | null;
  provider: string;
}

/** A prompt into blocks (or an outline), written after an automatic snapshot. */
@Injectable()
@JobProcessor()
export class GenerateProcessor implements JobHandler<typeof JobName.Generate> {
  readonly job = JobName.Generate;

  constructor(
    private readonly writer: GeneratedBlocksWriter,
    @Inject(TEXT_PROVIDER) private readonly provider: TextProvider,
  ) {}

  async handle(job: Job<GenerateJob & { snapshotId?: string }>, run: JobRun): Promise<GenerateResult> {
    const { sessionKey, principal, prompt, mode, seed, afterId, section } = job.data;
    await this.writer.checkWritable(principal, sessionKey, job.data);
    let snapshotId = job.data.snapshotId ?? null;
    if (!section && !snapshotId) {
      snapshotId = await this.writer.snapshotBefore(sessionKey, job.id!);
      await job.updateData({ ...job.data, snapshotId });
    }
    await job.updateProgress(10);
    const blocks = await this.provider.generate({ prompt, mode, section: section?.heading }, run.signal);
    await job.updateProgress(70);
    const blockIds = this.writer.idsFor(seed, blocks.length);
    await this.writer.write(principal, sessionKey, blockIds, blocks, afterId);
    return { mode, blockIds, snapshotId, provider: this.provider.name };
  }
}
