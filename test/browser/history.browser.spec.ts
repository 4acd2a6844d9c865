import { expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { describeWithBrowser, editorHarness, settle, synced } from '../helpers/browser.js';

/** Undo, redo and earlier changes on the editor page: real Chromium, two people, one Tessera process. */
describeWithBrowser('history on the editor page', () => {
  const harness = editorHarness('history-browser-spec');
  const person = () => harness.person();

  const blockText = (page: Page, index: number) => page.locator('#blocks textarea').nth(index);
  const shot = (page: Page, name: string) => harness.shot(page, name);

  const openNewSession = (page: Page, title: string, blocks: number) => harness.openNewSession(page, title, blocks);

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
