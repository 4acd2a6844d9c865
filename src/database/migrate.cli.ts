import { loadConfig } from '../config/app-config.js';
import { applyMigrations } from './migrator.js';

/** `npm run db:migrate`: applies pending migrations to DATABASE_URL and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL) {
    throw new Error('DATABASE_URL is not set: `npm start` migrates its embedded database itself.');
  }
  const { applied } = await applyMigrations(config.DATABASE_URL, (line) => console.log(line));
  console.log(applied.length ? `${applied.length} migration(s) applied` : 'No pending migrations');
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
