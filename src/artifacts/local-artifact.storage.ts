import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArtifactMissingError, type ArtifactStorage } from './artifact.storage.js';

/**
 * Artifacts as files under one directory. A write goes to a temporary file that is renamed
 * into place once complete, so a reader never sees half a file and a failed write (a full
 * disk, a killed process) leaves nothing under the key.
 */
export class LocalArtifactStorage implements ArtifactStorage {
  private readonly root: string;

  constructor(directory: string) {
    this.root = resolve(directory);
  }

  async write(key: string, body: Readable): Promise<number> {
    const target = this.pathOf(key);
    const temporary = `${target}.${randomBytes(6).toString('hex')}.partial`;
    await mkdir(dirname(target), { recursive: true });
    const out = createWriteStream(temporary, { flags: 'wx' });
    try {
      await pipeline(body, out);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return out.bytesWritten;
  }

  async read(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    if (!(await this.exists(key))) throw new ArtifactMissingError(key);
    return createReadStream(path);
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.pathOf(key)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  private pathOf(key: string): string {
    if (!/^[\w-]+(\/[\w.-]+)*$/.test(key) || key.includes('..')) throw new Error(`invalid artifact key ${key}`);
    return join(this.root, key);
  }
}
