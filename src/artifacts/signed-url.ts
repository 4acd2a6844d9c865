import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors/app-error.js';

/**
 * Download URLs signed with HMAC-SHA256 over the artifact id and the expiry: anyone holding
 * the URL may fetch it until then, nobody can alter either part without the secret.
 */
export class UrlSigner {
  constructor(private readonly secret: string) {}

  sign(artifactId: string, expiresAt: Date): { expires: number; signature: string } {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return { expires, signature: this.mac(artifactId, expires) };
  }

  /** 403 INVALID_SIGNATURE for a forged, altered or incomplete URL; 403 URL_EXPIRED for a genuine one past its time. */
  verify(artifactId: string, expires: string | undefined, signature: string | undefined, now = Date.now()): void {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires) || !/^[\w-]{43}$/.test(signature)) throw new AppError('INVALID_SIGNATURE');
    const expected = Buffer.from(this.mac(artifactId, Number(expires)));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new AppError('INVALID_SIGNATURE');
    if (Number(expires) * 1000 <= now) throw new AppError('URL_EXPIRED');
  }

  private mac(artifactId: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`artifact:${artifactId}:${expires}`).digest('base64url');
  }
}
