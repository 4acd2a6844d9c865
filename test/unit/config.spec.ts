import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config/app-config.js';

describe('configuration', () => {
  it('applies the contract defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3001,
      BODY_LIMIT: 1024 * 1024,
      SESSION_KEY_LENGTH: 3,
      SESSION_KEY_MAX_FILL: 0.25,
      AI_GENERATION_CONCURRENCY: 15,
      THINKING_QUEUE_CONCURRENCY: 8,
      IMAGE_GENERATION_CONCURRENCY: 5,
      EXPORT_CONCURRENCY: 12,
      COLLABORATION_CONCURRENCY: 100,
      SESSION_MAX_MEMBERS: 100,
      DRAIN_DELAY_MS: 5000,
      RATE_LIMIT_ENABLED: true,
      TRUST_PROXY: false,
    });
    expect(config.jwtSecretGenerated).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['PORT', 'eighty', /^Invalid environment variable PORT: .+ \(got "eighty"\)$/],
    ['SESSION_KEY_MAX_FILL', '2', /^Invalid environment variable SESSION_KEY_MAX_FILL: /],
    ['RATE_LIMIT_ENABLED', 'maybe', /^Invalid environment variable RATE_LIMIT_ENABLED: must be true or false/],
    ['DATABASE_URL', 'mysql://x', /^Invalid environment variable DATABASE_URL: must be a postgres:\/\/ URL \(got "\*\*\*"\)$/],
    ['SESSION_TYPES', 'Slides!', /^Invalid environment variable SESSION_TYPES: /],
  ])('a bad %s stops boot with one line naming it', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('checks settings against each other', () => {
    expect(() => loadConfig({ DB_POOL_MIN: '30', DB_POOL_MAX: '10' })).toThrow(/DB_POOL_MIN: must not exceed DB_POOL_MAX/);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET: is required in production/);
    const secret = { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) };
    expect(() => loadConfig({ ...secret, REDIS_URL: 'redis://redis:6379' })).toThrow(/DATABASE_URL: is required in production/);
    expect(() => loadConfig({ ...secret, DATABASE_URL: 'postgresql://db/tessera' })).toThrow(/REDIS_URL: is required in production/);
    expect(loadConfig({ ...secret, DATABASE_URL: 'postgresql://db/tessera', REDIS_URL: 'redis://redis:6379' }).NODE_ENV).toBe('production');
  });
});

describe('.env.example', () => {
  it('lists every setting with its default', async () => {
    const { readFileSync } = await import('node:fs');
    const { envSchema } = await import('../../src/config/env.schema.js');
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const example = Object.fromEntries(
      text
        .split('\n')
        .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const settings = Object.keys(envSchema.shape);
    expect(Object.keys(example).sort()).toEqual([...settings].sort());
    const { jwtSecret: _a, ...fromExample } = loadConfig(example);
    const { jwtSecret: _b, ...defaults } = loadConfig({});
    expect(fromExample).toEqual(defaults);
  });
});
