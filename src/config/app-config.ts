import { randomBytes } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { envSchema, type Env } from './env.schema.js';

export type AppConfig = Readonly<
  Env & {
    /** The JWT secret in force: JWT_SECRET, or one made for this process in development. */
    jwtSecret: string;
    /** True when JWT_SECRET was not set and the secret above is per-process. */
    jwtSecretGenerated: boolean;
  }
>;

export const APP_CONFIG = Symbol('APP_CONFIG');
export const InjectConfig = () => Inject(APP_CONFIG);

export class ConfigError extends Error {}

/** Parses the whole environment; the first problem becomes one line naming the variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    const issue = result.error.issues[0];
    const name = String(issue.path[0] ?? 'environment');
    const value = source[name];
    const shown = value === undefined ? '' : ` (got "${name.match(/SECRET|TOKEN|KEY|URL/) ? '***' : value}")`;
    throw new ConfigError(`Invalid environment variable ${name}: ${issue.message}${shown}`);
  }
  const env = result.data;
  const jwtSecretGenerated = !env.JWT_SECRET;
  return Object.freeze({
    ...env,
    jwtSecret: env.JWT_SECRET ?? randomBytes(32).toString('hex'),
    jwtSecretGenerated,
  });
}
