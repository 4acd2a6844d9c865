import { Controller, Get, Headers, Param, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createGunzip } from 'node:zlib';
import { UuidParam } from '../common/ids.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { ArtifactsService, type ArtifactView } from './artifacts.service.js';

@ApiTags('artifacts')
@ApiBearerAuth()
@Controller('api/artifacts/:id')
export class ArtifactsController {
  constructor(private readonly artifacts: ArtifactsService) {}

  @Get()
  view(@CurrentPrincipal() principal: Principal, @Param('id', { schema: UuidParam }) id: string): Promise<ArtifactView> {
    return this.artifacts.view(principal, id);
  }

  /** A signed URL for the content, valid SIGNED_URL_TTL_SECONDS; whoever holds it may download without a token. */
  @Get('download')
  download(@CurrentPrincipal() principal: Principal, @Param('id', { schema: UuidParam }) id: string) {
    return this.artifacts.downloadUrl(principal, id);
  }

  /**
   * The content behind a signed URL, streamed: as stored (gzip) to clients that accept it,
   * decompressed on the way for the others. Always an attachment, never rendered in our origin.
   */
  @Get('content')
  @ApiQuery({ name: 'expires', required: true })
  @ApiQuery({ name: 'signature', required: true })
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
