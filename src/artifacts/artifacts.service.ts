import { webcrypto } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import type { Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import type { Artifact } from '../generated/prisma/client.js';
import { ARTIFACT_STORAGE, ArtifactMissingError, type ArtifactStorage } from './artifact.storage.js';
import { ArtifactsRepository } from './artifacts.repository.js';
import { UrlSigner } from './signed-url.js';
import { SessionAccess } from '../sessions/session-access.service.js';

const gzipAsync = promisify(gzip);
const INLINE_IMAGE_MAX_BYTES = 2 * 1024 * 1024;

export type ArtifactKind = 'export' | 'image';

export interface ArtifactInput {
  id: string;
  sessionId: string;
  sessionKey: string;
  kind: ArtifactKind;
  contentType: string;
  fileName: string;
  body: Buffer;
  jobId: string | null;
}

/** An artifact as the API shows it (docs/api.md, Artifacts). */
export interface ArtifactView {
  id: string;
  sessionKey: string;
  kind: string;
  contentType: string;
  fileName: string;
  sizeBytes: number;
  storedBytes: number;
  sha256: string;
  createdAt: string;
  expiresAt: string;
}

export interface ArtifactContent {
  artifact: ArtifactView;
  /** The stored (gzip) bytes. */
  gzipped: Readable;
}

@Injectable()
export class ArtifactsService {
  private readonly signer: UrlSigner;

  constructor(
    private readonly artifacts: ArtifactsRepository,
    private readonly access: SessionAccess,
    @Inject(ARTIFACT_STORAGE) private readonly storage: ArtifactStorage,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.signer = new UrlSigner(config.SIGNED_URL_SECRET ?? config.jwtSecret);
  }

  /**
   * Compresses and stores the bytes, then records them. Idempotent by id: a retried job
   * rewrites the same file and finds its row already there.
   */
  async store(input: ArtifactInput): Promise<ArtifactView> {
    // Both off the event loop (zlib and WebCrypto run on the thread pool): an export may be megabytes.
    const [compressed, digest] = await Promise.all([gzipAsync(input.body, { level: 6 }), webcrypto.subtle.digest('SHA-256', input.body)]);
    const storageKey = `${input.id.slice(0, 2)}/${input.id}.gz`;
    const storedBytes = await this.storage.write(storageKey, Readable.from([compressed]));
    const recorded = this.artifacts.insert({
      id: input.id,
      sessionId: input.sessionId,
      sessionKey: input.sessionKey,
      kind: input.kind,
      contentType: input.contentType,
      fileName: input.fileName,
      sizeBytes: BigInt(input.body.length),
      storedBytes: BigInt(storedBytes),
      sha256: Buffer.from(digest).toString('hex'),
      storageKey,
      jobId: input.jobId,
    });
    // A file no row points to is never served; removed now rather than left for nobody to find.
    await recorded.catch(async (error: unknown) => {
      if (error instanceof AppError) await this.storage.remove(storageKey).catch(() => undefined);
      throw error;
    });
    return this.toView((await this.artifacts.find(input.id))!);
  }

  async view(principal: Principal, id: string): Promise<ArtifactView> {
    return this.toView(await this.visible(principal, id));
  }

  /** A URL anyone may fetch the content with, until `expiresAt` (SIGNED_URL_TTL_SECONDS). */
  async downloadUrl(principal: Principal, id: string): Promise<{ url: string; expiresAt: string }> {
    const artifact = await this.visible(principal, id);
    const expiresAt = new Date(Date.now() + this.config.SIGNED_URL_TTL_SECONDS * 1000);
    const { expires, signature } = this.signer.sign(artifact.id, expiresAt);
    const path = `/api/artifacts/${artifact.id}/content?expires=${expires}&signature=${signature}`;
    return {
      url: this.config.PUBLIC_URL ? new URL(path, this.config.PUBLIC_URL).toString() : path,
      expiresAt: new Date(expires * 1000).toISOString(),
    };
  }

  /** The content behind a signed URL: the signature is checked before anything is looked up. */
  async content(id: string, expires: string | undefined, signature: string | undefined): Promise<ArtifactContent> {
    this.signer.verify(id, expires, signature);
    const artifact = await this.artifacts.find(id);
    if (!artifact || artifact.sessionId === null) throw new AppError('ARTIFACT_NOT_FOUND');
    try {
      return { artifact: this.toView(artifact), gzipped: await this.storage.read(artifact.storageKey) };
    } catch (error) {
      if (error instanceof ArtifactMissingError) throw new AppError('ARTIFACT_NOT_FOUND');
      throw error;
    }
  }

  /** An image of the session as a data: URI, for self-contained exports; null when it is not one or is too large to inline. */
  async inlineImage(sessionId: string, id: string): Promise<string | null> {
    const artifact = await this.artifacts.find(id);
    if (!artifact || artifact.sessionId !== sessionId || artifact.kind !== 'image' || artifact.sizeBytes > INLINE_IMAGE_MAX_BYTES)
      return null;
    const stored = await this.storage.read(artifact.storageKey).catch(() => null);
    if (!stored) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of stored.pipe(createGunzip())) chunks.push(chunk as Buffer);
    return `data:${artifact.contentType.split(';')[0]};base64,${Buffer.concat(chunks).toString('base64')}`;
  }

  /** Readable to the caller if the session it belongs to still exists and they may read it; else as if unknown. */
  private async visible(principal: Principal, id: string): Promise<Artifact> {
    const artifact = await this.artifacts.find(id);
    if (!artifact?.sessionId) throw new AppError('ARTIFACT_NOT_FOUND');
    const session = await this.access.require(principal, artifact.sessionKey, 'read').catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'SESSION_NOT_FOUND') return null;
      throw error;
    });
    if (session?.id !== artifact.sessionId) throw new AppError('ARTIFACT_NOT_FOUND');
    return artifact;
  }

  private toView(a: Artifact): ArtifactView {
    return {
      id: a.id,
      sessionKey: a.sessionKey,
      kind: a.kind,
      contentType: a.contentType,
      fileName: a.fileName,
      sizeBytes: Number(a.sizeBytes),
      storedBytes: Number(a.storedBytes),
      sha256: a.sha256,
      createdAt: a.createdAt.toISOString(),
      expiresAt: new Date(a.createdAt.getTime() + this.config.ARTIFACT_RETENTION_DAYS * 86_400_000).toISOString(),
    };
  }
}
