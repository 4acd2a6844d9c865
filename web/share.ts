/**
 * The share dialog: who the members of the session are, for everyone who may read it, and
 * for its owner invite links (with a role, an expiry and a number of uses), members' roles,
 * removal and handing the session over.
 */
import { TesseraError } from 'tessera-client';
import { create, element } from './dom.js';

export type Role = 'owner' | 'editor' | 'viewer';
type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

interface MemberItem {
  userId: string;
  displayName: string;
  role: Role;
}

interface InviteItem {
  id: string;
  role: 'editor' | 'viewer';
  expiresAt: string;
  maxUses: number | null;
  uses: number;
  revoked: boolean;
}

interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Pages of 100 members read at most: the default member limit of a session. */
const MEMBER_PAGES = 10;

const ROLE_LABEL: Record<Role, string> = { owner: 'Owner', editor: 'Editor', viewer: 'Viewer' };

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function inviteState(invite: InviteItem): string | null {
  if (invite.revoked) return 'revoked';
  if (Date.parse(invite.expiresAt) <= Date.now()) return 'expired';
  if (invite.maxUses !== null && invite.uses >= invite.maxUses) return 'used up';
  return null;
}

export class ShareDialog {
  private key?: string;
  private role: Role = 'viewer';
  private readonly dialog = element<HTMLDialogElement>('share');

  constructor(
    private readonly api: Api,
    /** The signed-in user's id, to mark them in the list. */
    private readonly me: () => string | undefined,
    /** Called with the caller's new role after they handed the session over. */
    private readonly onOwnRole: (role: Role) => void,
  ) {
    element('share-open').addEventListener('click', () => void this.show());
    element('share-close').addEventListener('click', () => this.dialog.close());
    element<HTMLFormElement>('invite-form').addEventListener('submit', (event) => {
      event.preventDefault();
      void this.createInvite();
    });
    element('invite-copy').addEventListener('click', () => void this.copy());
  }

  /** The session now shown, and the caller's role in it. */
  setSession(key: string, role: Role): void {
    this.key = key;
    element('invite-created').hidden = true;
    this.setRole(role);
  }

  setRole(role: Role): void {
    this.role = role;
    const owner = role === 'owner';
    element('share-open').textContent = owner ? 'Share' : 'Members';
    for (const part of document.querySelectorAll<HTMLElement>('#share .owner-only')) part.hidden = !owner;
    if (this.dialog.open) void this.refresh();
  }

  /** A member change reached the session: the open dialog shows the list as it is now. */
  membersChanged(): void {
    if (this.dialog.open) void this.refresh();
  }

  close(): void {
    if (this.dialog.open) this.dialog.close();
  }

  private async show(): Promise<void> {
    element('share-error').textContent = '';
    this.dialog.showModal();
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    if (!this.key) return;
    try {
      await Promise.all([this.loadMembers(this.key), this.role === 'owner' ? this.loadInvites(this.key) : undefined]);
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    element('share-error').textContent = error instanceof Error ? error.message : String(error);
  }

  private async loadMembers(key: string): Promise<void> {
    const members: MemberItem[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < MEMBER_PAGES; page++) {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const answer: Page<MemberItem> = await this.api('GET', `/api/sessions/${key}/members?limit=100${query}`);
      members.push(...answer.items);
      cursor = answer.nextCursor;
      if (!cursor) break;
    }
    element('member-count').textContent = `(${members.length})`;
    element('member-list').replaceChildren(...members.map((member) => this.memberItem(key, member)));
  }

  private memberItem(key: string, member: MemberItem): HTMLLIElement {
    const item = create('li');
    item.dataset.userId = member.userId;
    const mine = member.userId === this.me();
    item.append(create('span', { className: 'name', textContent: `${member.displayName}${mine ? ' (you)' : ''}` }));
    const path = `/api/sessions/${key}/members/${member.userId}`;
    if (this.role !== 'owner' || member.role === 'owner') {
      item.append(create('span', { className: 'role', textContent: ROLE_LABEL[member.role] }));
      if (mine && member.role !== 'owner') item.append(this.button('Leave', `Leave this session`, () => this.api('DELETE', path)));
      return item;
    }
    const role = create('select', { className: 'member-role' });
    role.setAttribute('aria-label', `Role of ${member.displayName}`);
    for (const value of ['editor', 'viewer'] as const) role.append(create('option', { value, textContent: ROLE_LABEL[value] }));
    role.value = member.role;
    role.addEventListener('change', () => void this.act(() => this.api('PUT', path, { role: role.value })));
    item.append(
      role,
      this.button('Remove', `Remove ${member.displayName}`, () => this.api('DELETE', path)),
      this.button('Make owner', `Make ${member.displayName} the owner`, async () => {
        if (!confirm(`Make ${member.displayName} the owner? You will be an editor.`)) return;
        const session = await this.api<{ role: Role }>('POST', `/api/sessions/${key}/owner`, { userId: member.userId });
        this.onOwnRole(session.role);
      }),
    );
    return item;
  }

  private async loadInvites(key: string): Promise<void> {
    const { items } = await this.api<Page<InviteItem>>('GET', `/api/sessions/${key}/invites?limit=100`);
    const list = element('invite-list');
    list.replaceChildren(
      ...items.map((invite) => {
        const state = inviteState(invite);
        const uses = invite.maxUses === null ? `${invite.uses} uses` : `${invite.uses} of ${invite.maxUses} uses`;
        const item = create('li');
        item.dataset.id = invite.id;
        item.append(
          create('span', { className: 'role', textContent: ROLE_LABEL[invite.role] }),
          create('span', {
            className: state ? 'invite-text dead' : 'invite-text',
            textContent: `${uses} · ${state ?? `expires ${when(invite.expiresAt)}`}`,
          }),
        );
        if (!state)
          item.append(
            this.button('Revoke', `Revoke this ${invite.role} invite`, () =>
              this.api('DELETE', `/api/sessions/${key}/invites/${invite.id}`),
            ),
          );
        return item;
      }),
    );
    element('invite-empty').hidden = items.length > 0;
  }

  private button(text: string, label: string, run: () => Promise<unknown>): HTMLButtonElement {
    const button = create('button', { type: 'button', className: 'quiet', textContent: text });
    button.setAttribute('aria-label', label);
    button.addEventListener('click', () => void this.act(run));
    return button;
  }

  /** Runs one owner action, then shows the lists as they are (a refusal is said, never thrown). */
  private async act(run: () => Promise<unknown>): Promise<void> {
    element('share-error').textContent = '';
    try {
      await run();
    } catch (error) {
      this.fail(error);
    }
    await this.refresh();
  }

  private async createInvite(): Promise<void> {
    if (!this.key) return;
    const maxUses = element<HTMLInputElement>('invite-max-uses').valueAsNumber;
    const body = {
      role: element<HTMLSelectElement>('invite-role').value,
      expiresInHours: Number(element<HTMLSelectElement>('invite-expiry').value),
      maxUses: Number.isFinite(maxUses) ? maxUses : null,
    };
    element('share-error').textContent = '';
    // The link of an earlier invite is not shown while the next one is being made.
    element('invite-created').hidden = true;
    try {
      const invite = await this.api<InviteItem & { url: string }>('POST', `/api/sessions/${this.key}/invites`, body);
      const url = element<HTMLInputElement>('invite-url');
      url.value = new URL(invite.url, location.origin).href;
      const uses = invite.maxUses === null ? 'any number of people' : `${invite.maxUses} ${invite.maxUses === 1 ? 'person' : 'people'}`;
      element('invite-summary').textContent =
        `Lets ${uses} join as ${invite.role} until ${when(invite.expiresAt)}. The link is shown only now: copy it.`;
      element('invite-copied').textContent = '';
      element('invite-created').hidden = false;
      url.select();
    } catch (error) {
      this.fail(
        error instanceof TesseraError && error.code === 'INVITE_LIMIT_REACHED'
          ? new Error(`${error.message} Revoke an invite to make another.`)
          : error,
      );
    }
    await this.refresh();
  }

  private async copy(): Promise<void> {
    const url = element<HTMLInputElement>('invite-url');
    try {
      await navigator.clipboard.writeText(url.value);
      element('invite-copied').textContent = 'Copied';
    } catch {
      url.select();
      element('invite-copied').textContent = 'Press Ctrl+C to copy';
    }
  }
}
