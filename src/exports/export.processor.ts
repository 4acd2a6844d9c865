import { Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { ArtifactsService } from '../artifacts/artifacts.service.js';
import { DocumentReader } from '../sessions/document.reader.js';
import { requireJobSession } from '../queues/job-session.js';
import { JobName, type ExportJob } from '../queues/queue.names.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';
import { shapeOf } from './block-text.js';
import { render } from './renderers.js';
import { SessionAccess } from '../sessions/session-access.service.js';

export interface ExportResult {
  artifactId: string;
  format: ExportJob['format'];
  sizeBytes: number;
  /** The session's seq the export shows: every change up to it is in. */
  seq: number;
}

/** Renders a session as the requester may read it now, and stores the file as an artifact. */
@Injectable()
@JobProcessor()
export class ExportProcessor implements JobHandler<typeof JobName.Export> {
  readonly job = JobName.Export;

  constructor(
    private readonly reader: DocumentReader,
    private readonly access: SessionAccess,
    private readonly artifacts: ArtifactsService,
  ) {}

  async handle(job: Job<ExportJob>): Promise<ExportResult> {
    const { sessionKey, principal, format, artifactId } = job.data;
    requireJobSession(await this.access.require(principal, sessionKey, 'read'), job.data);
    const { id: sessionId, document } = requireJobSession(await this.reader.values(principal, sessionKey), job.data);
    await job.updateProgress(25);
    const images = new Map<string, string>();
    if (format === 'html') {
      for (const block of document.blocks) {
        const shape = shapeOf(block);
        if (shape.kind !== 'image' || !shape.artifactId || images.has(shape.artifactId)) continue;
        const uri = await this.artifacts.inlineImage(sessionId, shape.artifactId);
        if (uri) images.set(shape.artifactId, uri);
      }
    }
    const exportedAt = new Date();
    const rendered = await render(format, { document, exportedAt, images });
    await job.updateProgress(60);
    const artifact = await this.artifacts.store({
      id: artifactId,
      sessionId,
      sessionKey,
      kind: 'export',
      contentType: rendered.contentType,
      fileName: `${sessionKey}-${exportedAt.toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-')}.${rendered.extension}`,
      body: rendered.body,
      jobId: job.id ?? null,
    });
    return { artifactId: artifact.id, format, sizeBytes: artifact.sizeBytes, seq: document.seq };
  }
}
