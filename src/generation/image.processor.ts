import { Inject, Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { ArtifactsService } from '../artifacts/artifacts.service.js';
import { JobName, type ImageJob } from '../queues/queue.names.js';
import { JobProcessor, type JobHandler, type JobRun } from '../queues/job-handler.js';
import { GeneratedBlocksWriter } from './generated-blocks.writer.js';
import { oneLine } from './providers/prompt-words.js';
import { IMAGE_PROVIDER, type ImageProvider } from './providers/text-provider.js';

export interface ImageResult {
  artifactId: string;
  blockId: string;
  contentType: string;
  provider: string;
}

/** A prompt into an image: stored as an artifact, shown by an `image` block at the end of the session. */
@Injectable()
@JobProcessor()
export class ImageProcessor implements JobHandler<typeof JobName.Image> {
  readonly job = JobName.Image;

  constructor(
    private readonly writer: GeneratedBlocksWriter,
    private readonly artifacts: ArtifactsService,
    @Inject(IMAGE_PROVIDER) private readonly provider: ImageProvider,
  ) {}

  async handle(job: Job<ImageJob>, run: JobRun): Promise<ImageResult> {
    const { sessionKey, principal, prompt, artifactId, blockId } = job.data;
    const { id: sessionId } = await this.writer.checkWritable(principal, sessionKey, job.data);
    await job.updateProgress(10);
    const image = await this.provider.render(prompt, run.signal);
    await job.updateProgress(60);
    const slug =
      oneLine(prompt, 40)
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '') || 'image';
    await this.artifacts.store({
      id: artifactId,
      sessionId,
      sessionKey,
      kind: 'image',
      contentType: image.contentType,
      fileName: `${slug}.${image.extension}`,
      body: image.body,
      jobId: job.id ?? null,
    });
    await job.updateProgress(80);
    const content = { artifactId, alt: oneLine(prompt, 200), contentType: image.contentType, width: image.width, height: image.height };
    await this.writer.write(principal, sessionKey, [blockId], [{ type: 'image', content }]);
    return { artifactId, blockId, contentType: image.contentType, provider: this.provider.name };
  }
}
