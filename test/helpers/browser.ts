import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureBuilt, spawnTessera, whenReady, type TesseraProcess } from './processes.js';
import { isolatedRedis } from './test-app.js';
import { ensureMigrated } from './test-environment.js';

/** Debian's Chromium (Playwright's own download cannot work offline); CHROMIUM_PATH overrides. */
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path): path is string => !!path && existsSync(path),
);
export const SCREENSHOTS = join('test-artifacts', 'browser');
if (!CHROMIUM && process.env.TESSERA_REQUIRE_BROWSER) throw new Error('No Chromium found: install it (apt-get install chromium)');
if (!CHROMIUM) console.warn('Browser tests skipped: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH).');

/** `describe` when Chromium is there, else a skip (CI sets TESSERA_REQUIRE_BROWSER, which fails instead). */
export const describeWithBrowser = CHROMIUM ? describe : describe.skip;

export interface EditorHarness {
  /** The Tessera process serving the editor page (with its workers). */
  readonly server: TesseraProcess;
  /** A person: a browser context of their own (their own guest account), with a page. */
  person(): Promise<Page>;
  shot(page: Page, name: string): Promise<Buffer>;
}

/**
 * Registers, in the calling `describe`, one `node dist/main.js` with its workers (Redis under
 * `name`) and a headless Chromium; after the suite, no page may have thrown an uncaught error.
 */
export function editorHarness(name: string): EditorHarness {
  let server: TesseraProcess | undefined;
  let browser: Browser | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await spawnTessera('api', { ...isolatedRedis(name), RUN_WORKERS: 'true' });
    await whenReady(server);
    // No background networking: on a closed network Chromium's own connections only fail, many at a time.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    expect(pageErrors).toEqual([]);
    await browser?.close();
    server?.child.kill('SIGTERM');
    await server?.exited;
  });

  return {
    get server() {
      if (!server) throw new Error('the editor harness has not started');
      return server;
    },
    async person() {
      const context = await browser!.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(error.message));
      return page;
    },
    shot: (page, shotName) => page.screenshot({ path: join(SCREENSHOTS, `${shotName}.png`), fullPage: true }),
  };
}
