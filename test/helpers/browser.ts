import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
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
  /** Creates a session from the start form with `blocks` empty blocks; its key. */
  openNewSession(page: Page, title: string, blocks: number): Promise<string>;
}

/** Reads until the value is `expected` (10 s at most), then asserts it: pages converge, they do not answer at once. */
export async function settle<T>(read: () => Promise<T>, expected: T, timeoutMs = 10_000): Promise<void> {
  let value = await read();
  for (const deadline = Date.now() + timeoutMs; !isDeepStrictEqual(value, expected) && Date.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  expect(value).toEqual(expected);
}

/** Resolves once the page has no unsynced edit left. */
export const synced = (page: Page) => page.locator('#unsynced').waitFor({ state: 'hidden' });

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
    async openNewSession(page, title, blocks) {
      await page.goto(server!.url);
      await page.locator('#connection[data-state="online"]').waitFor();
      await page.fill('#create-title', title);
      await page.click('#create-form button');
      await page.locator('#session').waitFor();
      for (let i = 0; i < blocks; i++) {
        await page.click('#add-form button');
        await page.locator('#blocks textarea').nth(i).waitFor();
      }
      return new URL(page.url()).search.slice(2);
    },
  };
}
