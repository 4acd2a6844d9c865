import type { Readable } from 'node:stream';

/**
 * Where artifact bytes live. Keys are opaque; the bytes are stored as given (already
 * gzip-compressed). The local filesystem implements it now; an S3-compatible store
 * implements the same four calls (PutObject, GetObject, DeleteObject, HeadObject).
 */
export interface ArtifactStorage {
  /** Stores the whole stream under `key`, replacing what was there; resolves with the bytes written. */
  write(key: string, body: Readable): Promise<number>;
  /** The stored bytes; rejects with `ArtifactMissingError` when nothing is stored under `key`. */
  read(key: string): Promise<Readable>;
  /** Removes `key`; removing what is not there is not an error. */
  remove(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
}

export const ARTIFACT_STORAGE = Symbol('ARTIFACT_STORAGE');

export class ArtifactMissingError extends Error {
  constructor(key: string) {
    super(`no stored bytes under ${key}`);
    this.name = 'ArtifactMissingError';
  }
}
