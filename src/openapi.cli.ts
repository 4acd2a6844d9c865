import { writeFileSync } from 'node:fs';
import { loadConfig } from './config/app-config.js';
import { createApp } from './http.setup.js';

/**
 * `node dist/openapi.cli.js [file]`: prints (or writes) the OpenAPI document as the server serves
 * it at /api/docs/openapi.json. It needs no database or Redis: nothing connects before a request.
 */
async function main(): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'development',
    DATABASE_URL: 'postgresql://openapi@127.0.0.1:1/unused',
    REDIS_URL: 'redis://127.0.0.1:1',
    LOG_LEVEL: 'silent',
  });
  const app = await createApp(config, { logger: false });
  const response = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/api/docs/openapi.json' });
  if (response.statusCode !== 200) throw new Error(`The document answered ${response.statusCode}`);
  const text = `${JSON.stringify(JSON.parse(response.body), null, 2)}\n`;
  const file = process.argv[2];
  if (file) writeFileSync(file, text);
  else process.stdout.write(text);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(error.message);
    process.exit(1);
  },
);
