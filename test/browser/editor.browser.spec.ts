import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { describeWithBrowser, editorHarness, SCREENSHOTS, settle, synced } from '../helpers/browser.js';

/** The editor page as its users see it: real Chromium, two people, one Tessera process with its workers. */
describeWithBrowser('the editor page in a browser', () => {
  const harness = editorHarness('browser-spec');
  const person = () => harness.person();

  const blockText = (page: Page, index: number) => page.locator('#blocks textarea').nth(index);
  const allTexts = (page: Page) =>
    page.locator('#blocks textarea').evaluateAll((areas) => areas.map((a) => (a as unknown as { value: string }).value));
  const shot = (page: Page, name: string) => harness.shot(page, name);

  const openNewSession = (page: Page, title: string, blocks: number) => harness.openNewSession(page, title, blocks);

  it('two people edit one session at once and see each other’s edits and cursors', async () => {
    const ada = await person();
    const key = await openNewSession(ada, 'Launch plan', 2);
    expect(key).toMatch(/^[A-Z0-9]{3,12}$/);
    const bob = await person();
    await bob.goto(`${harness.server.url}/?=${key}`);
    await blockText(bob, 1).waitFor();

    // At once: Ada types in the first block, Bob in the second.
    await Promise.all([blockText(ada, 0).fill('Ship the beta on Friday'), blockText(bob, 1).fill('Bob checks the release notes')]);
    await Promise.all([synced(ada), synced(bob)]);
    await settle(() => blockText(bob, 0).inputValue(), 'Ship the beta on Friday');
    await settle(() => blockText(ada, 1).inputValue(), 'Bob checks the release notes');

    // Each sees the other in the list, and the other's cursor on the block they are in.
    const adaName = (await ada.locator('#me').textContent())!.replace('You are ', '');
    const bobName = (await bob.locator('#me').textContent())!.replace('You are ', '');
    await blockText(ada, 0).click();
    await blockText(bob, 1).click();
    await settle(() => bob.locator('#blocks li').nth(0).locator('.cursor').allTextContents(), [adaName]);
    await settle(() => ada.locator('#blocks li').nth(1).locator('.cursor').allTextContents(), [bobName]);
    await settle(() => ada.locator('#people li').count(), 2);
    expect(await ada.locator('#people').textContent()).toContain(bobName);
    await shot(ada, 'two-people-ada');
    await shot(bob, 'two-people-bob');

    // Moves and deletes reach the other side too.
    await ada.locator('#blocks li').nth(0).getByRole('button', { name: 'Move block down' }).click();
    await settle(() => allTexts(bob), ['Bob checks the release notes', 'Ship the beta on Friday']);
    await bob.locator('#blocks li').nth(0).getByRole('button', { name: 'Delete block' }).click();
    await settle(() => allTexts(ada), ['Ship the beta on Friday']);
  }, 60_000);

  it('shows a conflict with both versions, and the person who meets it chooses', async () => {
    const ada = await person();
    const key = await openNewSession(ada, 'Conflicts', 1);
    const bob = await person();
    await bob.goto(`${harness.server.url}/?=${key}`);
    await blockText(bob, 0).waitFor();
    // Both edit the same block from the same version; one save wins, the other meets it.
    await Promise.all([blockText(ada, 0).fill('Ada’s wording'), blockText(bob, 0).fill('Bob’s wording')]);
    const dialogs = [ada.locator('#conflict[open]'), bob.locator('#conflict[open]')];
    await settle(async () => (await Promise.all(dialogs.map((d) => d.count()))).reduce((a, b) => a + b), 1);
    const [loser, winner, mine, theirs] = (await dialogs[0].count())
      ? [ada, bob, 'Ada’s wording', 'Bob’s wording']
      : [bob, ada, 'Bob’s wording', 'Ada’s wording'];
    expect(await loser.locator('#conflict-mine').textContent()).toBe(mine);
    expect(await loser.locator('#conflict-theirs').textContent()).toBe(theirs);
    await shot(loser, 'conflict');
    await loser.click('#keep-mine');
    await synced(loser);
    await settle(() => blockText(winner, 0).inputValue(), mine);
    expect(await blockText(loser, 0).inputValue()).toBe(mine);
  }, 60_000);

  it('runs an export with live progress and downloads the result', async () => {
    const ada = await person();
    await openNewSession(ada, 'Exported', 1);
    await blockText(ada, 0).fill('Everything in one page');
    await synced(ada);
    await ada.selectOption('#export-format', 'html');
    await ada.click('#export-form button');
    const download = ada.locator('#jobs li button', { hasText: 'Download' });
    await download.waitFor({ timeout: 20_000 });
    expect(await ada.locator('#jobs li .label').first().textContent()).toContain('completed');
    expect(await ada.locator('#jobs li progress').first().getAttribute('value')).toBe('100');
    const [file] = await Promise.all([ada.waitForEvent('download'), download.click()]);
    expect(file.suggestedFilename()).toMatch(/\.html$/);
    const saved = join(SCREENSHOTS, file.suggestedFilename());
    await file.saveAs(saved);
    expect(readFileSync(saved, 'utf8')).toContain('Everything in one page');
    await shot(ada, 'export');
  }, 60_000);

  it('shares a private session by invite link; a role lowered, removed or handed over takes effect on each page at once', async () => {
    const ada = await person();
    await ada.goto(harness.server.url);
    await ada.locator('#connection[data-state="online"]').waitFor();
    await ada.fill('#create-title', 'Private plan');
    await ada.selectOption('#create-visibility', 'private');
    await ada.click('#create-form button');
    await ada.locator('#session').waitFor();
    await ada.click('#add-form button');
    await blockText(ada, 0).waitFor();
    expect(await ada.locator('#role-badge').textContent()).toBe('Owner');

    // Ada invites an editor: the link is shown once, with a copy button.
    await ada.click('#share-open');
    await ada.locator('#share[open]').waitFor();
    await ada.selectOption('#invite-role', 'editor');
    await ada.selectOption('#invite-expiry', '24');
    await ada.fill('#invite-max-uses', '1');
    await ada.click('#invite-form button[type="submit"]');
    await ada.locator('#invite-created').waitFor();
    const link = await ada.locator('#invite-url').inputValue();
    expect(link).toMatch(/\/\?invite=[A-Za-z0-9_-]{43}$/);
    expect(await ada.locator('#invite-summary').textContent()).toContain('join as editor');
    await settle(() => ada.locator('#invite-list li').count(), 1);
    expect(await ada.locator('#invite-list li').textContent()).toContain('0 of 1 uses');

    // Bob opens the link in his own browser: he joins as an editor and edits.
    const bob = await person();
    await bob.goto(link);
    await bob.locator('#session').waitFor();
    await settle(async () => (await bob.locator('#notice').textContent())?.includes('as an editor'), true);
    expect(await bob.locator('#share-open').textContent()).toBe('Members');
    const bobName = (await bob.locator('#me').textContent())!.replace('You are ', '');
    await blockText(bob, 0).fill('Bob was invited');
    await synced(bob);
    await settle(() => blockText(ada, 0).inputValue(), 'Bob was invited');
    // Ada's open dialog follows: Bob is a member, the one-use link is used up.
    const bobRow = ada.locator('#member-list li', { hasText: bobName });
    await bobRow.waitFor();
    expect(await ada.locator('#member-list li').first().textContent()).toContain('(you)');
    await settle(() => ada.locator('#invite-list li').first().textContent(), 'Editor1 of 1 uses · used up');
    await shot(ada, 'share-dialog');

    // Lowered to viewer: Bob's page says so and takes no more edits.
    await bobRow.locator('select').selectOption('viewer');
    await settle(async () => (await bob.locator('#notice').textContent())?.includes('read only'), true);
    expect(await bob.locator('#role-badge').textContent()).toBe('Read only');
    expect(await blockText(bob, 0).isEditable()).toBe(false);
    expect(await bob.locator('#add-form').isHidden()).toBe(true);
    await blockText(bob, 0)
      .press('End')
      .catch(() => undefined);
    await bob.keyboard.type(' and more');
    expect(await blockText(bob, 0).inputValue()).toBe('Bob was invited');
    // Still a reader: Ada's edits reach him.
    await ada.click('#share-close');
    await blockText(ada, 0).fill('Ada decides');
    await settle(() => blockText(bob, 0).inputValue(), 'Ada decides');
    await shot(bob, 'invitee-read-only');

    // Removed: Bob's page says he no longer has access.
    await ada.click('#share-open');
    await bobRow.getByRole('button', { name: `Remove ${bobName}` }).click();
    await bob.locator('#session').waitFor({ state: 'hidden' });
    expect(await bob.locator('#start-error').textContent()).toContain('no longer have access');
    await settle(() => ada.locator('#member-list li').count(), 1);
    await shot(bob, 'invitee-removed');

    // A revoked link and a made-up one are each explained.
    await ada.click('#invite-form button[type="submit"]');
    await settle(async () => (await ada.locator('#invite-url').inputValue()) !== link, true);
    const revoked = await ada.locator('#invite-url').inputValue();
    expect(revoked).toMatch(/\/\?invite=[A-Za-z0-9_-]{43}$/);
    await settle(() => ada.locator('#invite-list li').count(), 2);
    await ada.locator('#invite-list li').first().getByRole('button').click();
    await settle(async () => (await ada.locator('#invite-list li').first().textContent())?.includes('revoked'), true);
    const carol = await person();
    await carol.goto(revoked);
    await settle(async () => (await carol.locator('#start-error').textContent())?.includes('expired, was revoked'), true);
    await carol.goto(`${harness.server.url}/?invite=${'x'.repeat(43)}`);
    await settle(async () => (await carol.locator('#start-error').textContent())?.includes('not valid'), true);

    // Ada hands the session to Carol, who joined as a viewer: each page follows its new role.
    await ada.selectOption('#invite-role', 'viewer');
    await ada.click('#invite-form button[type="submit"]');
    await settle(async () => ![link, revoked].includes(await ada.locator('#invite-url').inputValue()), true);
    await carol.goto(await ada.locator('#invite-url').inputValue());
    await settle(async () => (await carol.locator('#notice').textContent())?.includes('as a viewer'), true);
    expect(await carol.locator('#add-form').isHidden()).toBe(true);
    const carolName = (await carol.locator('#me').textContent())!.replace('You are ', '');
    ada.once('dialog', (dialog) => void dialog.accept());
    await ada.getByRole('button', { name: `Make ${carolName} the owner` }).click();
    await settle(() => carol.locator('#role-badge').textContent(), 'Owner');
    expect(await carol.locator('#share-open').textContent()).toBe('Share');
    expect(await carol.locator('#add-form').isHidden()).toBe(false);
    expect(await blockText(carol, 0).isEditable()).toBe(true);
    await settle(() => ada.locator('#role-badge').textContent(), 'Editor');
    expect(await ada.locator('#invite-form').isHidden()).toBe(true);
    await settle(() => ada.locator('#member-list li').first().textContent(), `${carolName}Owner`);
  }, 90_000);

  it('a reload right after typing loses nothing: the edit waits in IndexedDB (or its rescue) and is sent once the page is back', async () => {
    const ada = await person();
    const key = await openNewSession(ada, 'Reloaded', 2);
    await blockText(ada, 0).fill('Saved before the reload');
    await synced(ada);
    // Typed, and the page reloaded at once: what IndexedDB had not stored yet was rescued through localStorage.
    await blockText(ada, 1).pressSequentially('Typed just before');
    await ada.reload();
    expect(new URL(ada.url()).search).toBe(`?=${key}`);
    await settle(() => blockText(ada, 0).inputValue(), 'Saved before the reload');
    await settle(() => blockText(ada, 1).inputValue(), 'Typed just before');
    await synced(ada);
    // The edit reached the server: a newcomer sees it.
    const bob = await person();
    await bob.goto(`${harness.server.url}/?=${key}`);
    await settle(() => blockText(bob, 1).inputValue(), 'Typed just before');
    await shot(ada, 'editor');
  }, 60_000);

  it('edits made offline show at once, survive a reload, and are stored once each when the network returns', async () => {
    const ada = await person();
    const key = await openNewSession(ada, 'Offline', 5);
    await synced(ada);
    const before = (await (await fetch(`${harness.server.url}/api/sessions/${key}`)).json()) as { seq: number };

    await ada.context().setOffline(true);
    await ada.locator('#connection[data-state="offline"]').waitFor();
    const edits = Array.from({ length: 5 }, (_, i) => `Written offline ${i + 1}`);
    for (const [i, text] of edits.entries()) await blockText(ada, i).fill(text);
    await settle(() => ada.locator('#unsynced').textContent(), '5 unsynced edits');
    await shot(ada, 'offline-edits');

    // Reloaded while offline, the page cannot load (the browser shows its offline error);
    // reloaded once the network is back, it sends what the reload left in its store.
    await expect(ada.reload()).rejects.toThrow(/ERR_INTERNET_DISCONNECTED/);
    await ada.context().setOffline(false);
    await ada.goto(`${harness.server.url}/?=${key}`);
    await settle(() => allTexts(ada), edits);
    await synced(ada);

    // Stored once each: one update per block (version 2), one change each in the session's log.
    const after = (await (await fetch(`${harness.server.url}/api/sessions/${key}`)).json()) as {
      seq: number;
      blocks: Array<{ version: number; content: { text: string } }>;
    };
    expect(after.blocks.map((b) => [b.content.text, b.version])).toEqual(edits.map((text) => [text, 2]));
    expect(after.seq).toBe(before.seq + 5);
    const bob = await person();
    await bob.goto(`${harness.server.url}/?=${key}`);
    await settle(() => allTexts(bob), edits);
  }, 60_000);

  it('an offline edit of a block someone else changed meanwhile opens the conflict dialog when the network returns', async () => {
    const ada = await person();
    const key = await openNewSession(ada, 'Offline conflict', 1);
    await blockText(ada, 0).fill('Before');
    await synced(ada);
    const bob = await person();
    await bob.goto(`${harness.server.url}/?=${key}`);
    await settle(() => blockText(bob, 0).inputValue(), 'Before');

    await ada.context().setOffline(true);
    await ada.locator('#connection[data-state="offline"]').waitFor();
    await blockText(ada, 0).fill('Ada, offline');
    await blockText(bob, 0).fill('Bob, online');
    await synced(bob);

    await ada.context().setOffline(false);
    await ada.locator('#conflict[open]').waitFor();
    expect(await ada.locator('#conflict-mine').textContent()).toBe('Ada, offline');
    expect(await ada.locator('#conflict-theirs').textContent()).toBe('Bob, online');
    await shot(ada, 'offline-conflict');
    // Nothing was overwritten while the dialog waits: Bob's text stands.
    expect(await blockText(bob, 0).inputValue()).toBe('Bob, online');
    await ada.click('#keep-mine');
    await synced(ada);
    await settle(() => blockText(bob, 0).inputValue(), 'Ada, offline');
  }, 60_000);

  it('an offline delete of a block someone changed, and an offline edit of a block someone deleted, are told in the notice line', async () => {
    const ada = await person();
    const key = await openNewSession(ada, 'Offline refusals', 2);
    await blockText(ada, 0).fill('Kept');
    await blockText(ada, 1).fill('Gone');
    await synced(ada);
    const bob = await person();
    await bob.goto(`${harness.server.url}/?=${key}`);
    await settle(() => allTexts(bob), ['Kept', 'Gone']);

    await ada.context().setOffline(true);
    await ada.locator('#connection[data-state="offline"]').waitFor();
    await ada.locator('#blocks button[aria-label="Delete block"]').nth(0).click();
    await blockText(ada, 0).fill('Ada, offline');
    await blockText(bob, 0).fill('Kept, by Bob');
    await bob.locator('#blocks button[aria-label="Delete block"]').nth(1).click();
    await synced(bob);
    await settle(() => allTexts(bob), ['Kept, by Bob']);

    // Every text the notice line shows from now on (a later one replaces an earlier one on the page).
    await ada.locator('#notice').evaluate((notice) => {
      const seen: string[] = [];
      const page = globalThis as unknown as {
        notices: string[];
        MutationObserver: new (fn: () => void) => { observe(n: unknown, o: unknown): void };
      };
      page.notices = seen;
      const node = notice as unknown as { textContent: string };
      new page.MutationObserver(() => seen.push(node.textContent)).observe(notice, { childList: true, characterData: true, subtree: true });
    });
    const notices = () => ada.evaluate(() => (globalThis as unknown as { notices: string[] }).notices);
    await ada.context().setOffline(false);
    await settle(
      async () => (await notices()).some((text) => text.includes('changed a block you deleted before your delete arrived')),
      true,
    );
    await settle(async () => (await notices()).some((text) => text.includes('Someone deleted a block before your edit arrived')), true);
    await settle(() => allTexts(ada), ['Kept, by Bob']);
    await shot(ada, 'offline-refusals');
  }, 60_000);
});
