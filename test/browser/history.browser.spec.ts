import { isDeepStrictEqual } from 'node:util';
import { expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { describeWithBrowser, editorHarness } from '../helpers/browser.js';

/** Undo, redo and earlier changes on the editor page: real Chromium, two people, one Tessera process. */
describeWithBrowser('history on the editor page', () => {
  const harness = editorHarness('history-browser-spec');
  const person = () => harness.person();

  const blockText = (page: Page, index: number) => page.locator('#blocks textarea').nth(index);
  const shot = (page: Page, name: string) => harness.shot(page, name);

  async function openNewSession(page: Page, title: string, blocks: number): Promise<string> {
    await page.goto(harness.server.url);
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
    await bob.goto(`${harness.server.url}/?=${key}`);
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
