import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureBuilt, spawnTessera, whenReady, type TesseraProcess } from '../helpers/processes.js';
import { isolatedRedis } from '../helpers/test-app.js';
import { ensureMigrated } from '../helpers/test-environment.js';

/** Debian's Chromium (Playwright's own download cannot work offline); CHROMIUM_PATH overrides. */
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path): path is string => !!path && existsSync(path),
);
const SCREENSHOTS = join('test-artifacts', 'browser');
if (!CHROMIUM && process.env.TESSERA_REQUIRE_BROWSER) throw new Error('No Chromium found: install it (apt-get install chromium)');
if (!CHROMIUM) console.warn('Browser tests skipped: no Chromium found (apt-get install chromium, or set CHROMIUM_PATH).');

const describeWithBrowser = CHROMIUM ? describe : describe.skip;

/** Undo, redo and earlier changes on the editor page: real Chromium, two people, one Tessera process. */
describeWithBrowser('history on the editor page', () => {
  let server: TesseraProcess;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  /** Uncaught errors in any page: none is expected. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    await ensureMigrated();
    mkdirSync(SCREENSHOTS, { recursive: true });
    server = await spawnTessera('api', { ...isolatedRedis('history-browser-spec'), RUN_WORKERS: 'true' });
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

  /** A person: a browser context of their own (their own guest account), with a page. */
  async function person(): Promise<Page> {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  }

  const blockText = (page: Page, index: number) => page.locator('#blocks textarea').nth(index);
  const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  async function openNewSession(page: Page, title: string, blocks: number): Promise<string> {
    await page.goto(server.url);
    await page.locator('#connection[data-state="online"]').waitFor();
    await page.fill('#create-title', title);
    await page.click('#create-form button');
    await page.locator('#session').waitFor();
    for (let i = 0; i < blocks; i++) {
      await page.click('#add-form button');
      await page.locator('#blocks textarea').nth(i).waitFor();
    }
    return new URL(page.url()).search.slice(2);
  }

  /** Reads until the value is `expected` (10 s at most), then asserts it: pages converge, they do not answer at once. */
  async function settle<T>(read: () => Promise<T>, expected: T, timeoutMs = 10_000): Promise<void> {
    let value = await read();
    for (const deadline = Date.now() + timeoutMs; !isDeepStrictEqual(value, expected) && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      value = await read();
    }
    expect(value).toEqual(expected);
  }

  const synced = (page: Page) => page.locator('#unsynced').waitFor({ state: 'hidden' });

  it('undoes with the keyboard, and the other person sees the undo live; the slider shows an earlier change', async () => {
    const ada = await person();
    const key = await openNewSession(ada, 'Undo', 1);
    const bob = await person();
    await bob.goto(`${server.url}/?=${key}`);
    await blockText(bob, 0).waitFor();

    await blockText(ada, 0).fill('First draft');
    await synced(ada);
    await settle(() => blockText(bob, 0).inputValue(), 'First draft');
    await blockText(ada, 0).fill('Second draft');
    await synced(ada);
    await settle(() => blockText(bob, 0).inputValue(), 'Second draft');

    // The block is saved, so Ctrl+Z in it is the server's undo of Ada's last change.
    await blockText(ada, 0).press('Control+z');
    await settle(() => blockText(ada, 0).inputValue(), 'First draft');
    await settle(() => blockText(bob, 0).inputValue(), 'First draft');
    await settle(() => ada.locator('#history-status').textContent(), 'Undid 1 change.');
    // Redo, then Bob has nothing of his own to undo.
    await ada.keyboard.press('Control+Shift+z');
    await settle(() => blockText(bob, 0).inputValue(), 'Second draft');
    await bob.click('#undo');
    await settle(() => bob.locator('#history-status').textContent(), 'Nothing of yours to undo.');
    expect(await blockText(ada, 0).inputValue()).toBe('Second draft');

    // The slider at change 2 (the first save) shows the session then, and what changed since.
    await bob.locator('#history-slider').evaluate((element) => {
      const slider = element as unknown as { value: string; dispatchEvent(event: Event): boolean };
      slider.value = '2';
      slider.dispatchEvent(new Event('input'));
    });
    await settle(() => bob.locator('#history-blocks li').allTextContents(), ['First draft']);
    await settle(() => bob.locator('#history-diff li').allTextContents(), ['updated: Second draft']);
    await shot(bob, 'history');
  }, 60_000);
});
