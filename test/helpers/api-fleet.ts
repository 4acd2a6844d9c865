import { ensureBuilt, spawnTessera, whenReady, type TesseraProcess } from './processes.js';
import { RoundRobinProxy } from './round-robin-proxy.js';
import { isolatedRedis, RELAXED_LIMITS } from './test-app.js';
import { ensureMigrated } from './test-environment.js';

/**
 * Built API processes (`node dist/main.js`) behind one round-robin proxy, as a Deployment
 * behind its Service. Small pools, and edit limits high enough that load is never refused.
 */
export class ApiFleet {
  readonly processes: TesseraProcess[] = [];
  private readonly env: Record<string, string>;

  private constructor(
    readonly proxy: RoundRobinProxy,
    redisName: string,
    env: Record<string, string>,
  ) {
    this.env = {
      ...isolatedRedis(redisName),
      DB_POOL_MAX: '5',
      RATE_LIMIT_POLICIES: JSON.stringify(RELAXED_LIMITS),
      ...env,
    };
  }

  static async start(redisName: string, env: Record<string, string> = {}): Promise<ApiFleet> {
    ensureBuilt();
    await ensureMigrated();
    return new ApiFleet(await new RoundRobinProxy().start(), redisName, env);
  }

  get url(): string {
    return this.proxy.url;
  }

  /** One more process, in the proxy's rotation once it is ready. */
  async add(): Promise<TesseraProcess> {
    const api = await spawnTessera('api', this.env);
    this.processes.push(api);
    await whenReady(api);
    await this.proxy.add(api.url);
    return api;
  }

  async close(): Promise<void> {
    for (const p of this.processes) p.child.kill('SIGKILL');
    await this.proxy.close();
  }
}
