import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';

function scryptAsync(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key))));
}

const KEY_LENGTH = 64;

/** scrypt with a per-password salt; the cost parameters travel inside the stored hash. */
@Injectable()
export class PasswordHasher implements OnModuleInit {
  private readonly cost: number;
  private dummyHash?: Promise<string>;

  constructor(@InjectConfig() config: AppConfig) {
    this.cost = config.PASSWORD_HASH_COST;
  }

  async onModuleInit(): Promise<void> {
    this.dummyHash = this.hash('tessera-timing-equaliser');
    await this.dummyHash;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const N = 2 ** this.cost;
    const key = await scryptAsync(password, salt, KEY_LENGTH, { N, r: 8, p: 1, maxmem: 256 * N * 8 });
    return ['scrypt', N, 8, 1, salt.toString('base64'), key.toString('base64')].join('$');
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, expected] = stored.split('$');
    if (scheme !== 'scrypt' || !salt || !expected) return false;
    const N = Number(n);
    const want = Buffer.from(expected, 'base64');
    const key = await scryptAsync(password, Buffer.from(salt, 'base64'), want.length, {
      N,
      r: Number(r),
      p: Number(p),
      maxmem: 256 * N * Number(r),
    });
    return timingSafeEqual(key, want);
  }

  /** Spends the same time as a real check, so an unknown email is not told apart by timing. */
  async burn(password: string): Promise<void> {
    this.dummyHash ??= this.hash('tessera-timing-equaliser');
    await this.verify(password, await this.dummyHash);
  }
}
