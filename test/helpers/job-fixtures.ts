import { startFakeProvider } from './fake-provider.js';
import { startTestApp, type TestApp } from './test-app.js';
import { currentRun } from './test-environment.js';

/** What the fake model answers a generation with: three blocks. */
export const BLOCKS = {
  blocks: [
    { type: 'heading', text: 'From the model', level: 1 },
    { type: 'text', text: 'Body' },
    { type: 'checklist-item', text: 'Do it' },
  ],
};

/** Each test gets queues of its own, so no other suite's workers take its jobs. */
export const queuePrefix = (name: string) => `${currentRun().redisPrefix}${name}`;

/**
 * Apps and fake providers a job suite starts, all closed by `closeAll` even when a test
 * fails before its own close (a held provider answer would keep Jest alive).
 */
export function jobSuiteResources() {
  const open: Array<{ close(): Promise<void> }> = [];
  return {
    start: async (env: Record<string, string>): Promise<TestApp> => {
      const app = await startTestApp(env);
      open.push(app);
      return app;
    },
    fakeProvider: async (respond: Parameters<typeof startFakeProvider>[0]) => {
      const provider = await startFakeProvider(respond);
      open.push(provider);
      return provider;
    },
    closeAll: () => Promise.all(open.map((o) => o.close())),
  };
}
