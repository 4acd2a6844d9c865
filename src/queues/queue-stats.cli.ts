import { existsSync } from 'node:fs';
import { Queue } from 'bullmq';
import { loadConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { QUEUE_NAMES } from './queue.names.js';
import { queueConnection } from './queue.options.js';
import { QueueRegistry } from './queue.registry.js';
import { QueueStatsService } from './queue-stats.service.js';

/**
 * `npm run queue:stats` (`--json` for machines): the figures of /api/admin/queues/stats,
 * read straight from Redis, for operators with a shell on a pod but not the admin token.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const queues = QUEUE_NAMES.map(
    (name) => new Queue(name, { connection: queueConnection(config, 'producer'), prefix: config.QUEUE_PREFIX }),
  );
  const redis = new RedisService(config);
  try {
    const [ai, thinking, image, exports, collaboration, webhooks] = queues;
    const registry = new QueueRegistry(ai, thinking, image, exports, collaboration, webhooks);
    const stats = await new QueueStatsService(registry, redis, config).stats();
    if (process.argv.includes('--json')) {
      console.log(JSON.stringify(stats, null, 2));
      return;
    }
    console.table(Object.fromEntries(stats.map(({ name, ...figures }) => [name, { ...figures, stuck: figures.stuck ? 'STUCK' : '' }])));
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await redis.onModuleDestroy();
  }
}

main().catch((error: Error) => {
  console.error(`queue:stats failed: ${error.message}`);
  process.exit(1);
});
