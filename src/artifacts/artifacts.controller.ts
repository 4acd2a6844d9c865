import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createGunzip } from 'node:zlib';
import { UuidParam } from '../common/ids.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { ArtifactsService, type ArtifactView } from './artifacts.service.js';
import { z } from 'zod';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { ArtifactSchema, DownloadUrlSchema } from '../contract/schemas.js';

@ApiTags('artifacts')
@Controller('api/artifacts/:id')
export class ArtifactsController {
  constructor(private readonly artifacts: ArtifactsService) {}

  @Get()
  @ApiOperationDoc({
    id: 'getArtifact',
    summary: 'Get an artifact',
    description: 'What a job produced: name, type, sizes, checksum and when it expires.',
    auth: 'optional',
    responses: { 200: { description: 'The artifact.', schema: ArtifactSchema } },
    errors: ['ARTIFACT_NOT_FOUND'],
  })
  view(@CurrentPrincipal() principal: Principal, @Param('id', { schema: UuidParam }) id: string): Promise<ArtifactView> {
    return this.artifacts.view(principal, id);
  }

  /** A signed URL for the content, valid SIGNED_URL_TTL_SECONDS; whoever holds it may download without a token. */
  @Get('download')
  @ApiOperationDoc({
    id: 'getArtifactDownloadUrl',
    summary: 'Get a download URL',
    description: 'A signed URL for the content, valid SIGNED_URL_TTL_SECONDS; whoever holds it may download without a token.',
    auth: 'optional',
    responses: { 200: { description: 'The URL.', schema: DownloadUrlSchema } },
    errors: ['ARTIFACT_NOT_FOUND'],
  })
  download(@CurrentPrincipal() principal: Principal, @Param('id', { schema: UuidParam }) id: string) {
    return this.artifacts.downloadUrl(principal, id);
  }

  /**
   * The content behind a signed URL, streamed: as stored (gzip) to clients that accept it,
   * decompressed on the way for the others. Always an attachment, never rendered in our origin.
   */
  @Get('content')
  @ApiQuery({ name: 'expires', required: true, schema: { type: 'string', pattern: '^[0-9]{1,12}$' } })
  @ApiQuery({ name: 'signature', required: true, schema: { type: 'string', maxLength: 128 } })
  @ApiProduces('application/json', 'text/markdown', 'text/html', 'image/svg+xml', 'image/png')
  @ApiOperationDoc({
    id: 'downloadArtifact',
    summary: "Download an artifact's content",
    description:
      'The content behind a signed URL (no token needed): gzip-encoded to clients that accept it, else decompressed. ' +
      'Always an attachment. The real media type is in Content-Type.',
    auth: 'none',
    responses: { 200: { description: 'The content.', schema: z.string().meta({ format: 'binary' }) } },
    errors: ['INVALID_SIGNATURE', 'URL_EXPIRED', 'ARTIFACT_NOT_FOUND'],
  })
  async content(
    @Param('id', { schema: UuidParam }) id: string,
    @Query('expires') expires: string | undefined,
    @Query('signature') signature: string | undefined,
    @Headers('accept-encoding') acceptEncoding: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const { artifact, gzipped } = await this.artifacts.content(id, stringOrUndefined(expires), stringOrUndefined(signature));
    const asIs = acceptsGzip(acceptEncoding);
    void reply
      .header('content-type', artifact.contentType)
      .header('content-disposition', `attachment; filename="${artifact.fileName}"`)
      .header('content-security-policy', "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox")
      .header('cache-control', 'private, max-age=300')
      .header('etag', `"${artifact.sha256}"`)
      .header('vary', 'accept-encoding')
      .header('content-length', asIs ? artifact.storedBytes : artifact.sizeBytes);
    if (asIs) void reply.header('content-encoding', 'gzip');
    await reply.send(asIs ? gzipped : gzipped.pipe(createGunzip()));
  }
}

const stringOrUndefined = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** True unless the client does not list gzip or refuses it (`gzip;q=0`). */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return !q || Number(q.slice(2)) > 0;
  });
}
