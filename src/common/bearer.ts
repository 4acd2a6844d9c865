import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer (\S{1,4096})$/i;
const digest = (value: string) => createHash('sha256').update(value).digest();

/** The token of an `Authorization: Bearer <token>` header, or undefined when the header is absent or has another shape. */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header.trim())?.[1];
}

/**
 * A configured secret (the admin or the metrics token), compared in constant time: both
 * sides are hashed first, so neither the content nor the length leaks through timing.
 */
export class SharedSecret {
  private readonly digest: Buffer;

  private constructor(secret: string) {
    this.digest = digest(secret);
  }

  /** Undefined when the secret is not configured. */
  static of(secret: string | undefined): SharedSecret | undefined {
    return secret ? new SharedSecret(secret) : undefined;
  }

  matches(token: string): boolean {
    return timingSafeEqual(digest(token), this.digest);
  }
}
