/**
 * Tessera's editor page: a small collaborative block editor on the typed client. It opens
 * a session by key (`/?=XYZ`) or creates one, edits blocks through the client's outbox (shown
 * at once, kept in IndexedDB until the server answers, so edits made offline survive a reload
 * and are applied once when the network returns), shows who is here and where their cursor is, resolves conflicts with the user,
 * runs exports and generation jobs with live progress, and lets the owner invite people by
 * link and manage their roles; a role taken away takes effect on the page at once.
 */
import {
  IndexedDbOutboxStore,
  MemoryOutboxStore,
  Outbox,
  SessionView,
  TesseraClient,
  TesseraError,
  type BlockView,
  type ChangeEvent,
  type Member,
  type Outcome,
  type SessionFeed,
} from 'tessera-client';
import { create, element } from './dom.js';
import { ShareDialog, type Role } from './share.js';

const IDENTITY_KEY = 'tessera.identity';

interface Identity {
  token?: string;
  userId?: string;
  name: string;
}

interface JobEvent {
  jobId: string;
  name: string;
  state: 'waiting' | 'active' | 'completed' | 'failed' | 'delayed';
  progress?: unknown;
  result?: { artifactId?: string; blockIds?: string[]; format?: string };
  error?: { code: string; message: string };
}

/** One block on the page: the block as the session view shows it (the user's pending edits on top). */
interface Row {
  view: BlockView;
  item: HTMLLIElement;
  text: HTMLTextAreaElement;
  cursors: HTMLElement;
  /** Edits typed here that are being queued: the text field is not overwritten meanwhile. */
  typing: number;
}

const textOf = (block: BlockView) => {
  const text = (block.content as { text?: unknown }).text;
  return typeof text === 'string' ? text : '';
};

let identity: Identity = { name: 'Anonymous' };
let client: TesseraClient;
let outbox: Outbox;
/** False when this browser has no IndexedDB: unsent edits then live only as long as the page. */
let durable = true;
let feed: SessionFeed | undefined;
let view: SessionView | undefined;
let sessionKey: string | undefined;
const rows = new Map<string, Row>();
let members: Member[] = [];
/** The caller's role in the open session: it decides what the page offers. */
let role: Role = 'editor';
/** The open session's listeners, removed when another session (or the same one again) opens. */
let unsubscribe: Array<() => void> = [];
const share = new ShareDialog(
  api,
  () => identity.userId,
  (next) => applyRole(next),
);

// ---------------------------------------------------------------------------- HTTP

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(identity.token ? { authorization: `Bearer ${identity.token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = (await response.json().catch(() => ({}))) as T & { code?: string; detail?: string; message?: string };
  if (!response.ok)
    throw new TesseraError(payload.code ?? `HTTP_${response.status}`, payload.detail ?? payload.message ?? response.statusText);
  return payload;
}

/** A guest account per browser, so collaborators see a name; anonymous if that fails. */
async function loadIdentity(): Promise<Identity> {
  const stored = localStorage.getItem(IDENTITY_KEY);
  if (stored) {
    identity = JSON.parse(stored) as Identity;
    const me = await api<{ id: string; displayName: string }>('GET', '/api/auth/me').catch(() => undefined);
    if (me) return { ...identity, userId: me.id, name: me.displayName };
  }
  identity = { name: 'Anonymous' };
  const name = `Guest ${Math.random().toString(36).slice(2, 6).toUpperCase()}`;
  const secret = crypto.randomUUID() + crypto.randomUUID();
  try {
    const registered = await api<{ user: { id: string; displayName: string }; accessToken: string }>('POST', '/api/auth/register', {
      email: `guest-${crypto.randomUUID()}@guests.tessera.invalid`,
      password: secret,
      displayName: name,
    });
    const fresh = { token: registered.accessToken, userId: registered.user.id, name: registered.user.displayName };
    localStorage.setItem(IDENTITY_KEY, JSON.stringify(fresh));
    return fresh;
  } catch {
    return identity;
  }
}

// ---------------------------------------------------------------------------- connection and unsynced edits

/** Edits not yet answered by the server (all sessions: the outbox sends them in order), and typing being queued. */
function unsynced(): number {
  return (outbox?.unsent ?? 0) + [...rows.values()].filter((r) => r.typing > 0).length;
}

function showConnection(): void {
  const online = client?.socket.connected ?? false;
  const pending = unsynced();
  const indicator = element('connection');
  indicator.dataset.state = !online ? 'offline' : pending > 0 ? 'syncing' : 'online';
  element('connection-text').textContent = online ? 'Connected' : 'Offline, reconnecting…';
  const badge = element('unsynced');
  badge.hidden = pending === 0;
  badge.textContent = `${pending} unsynced ${pending === 1 ? 'edit' : 'edits'}`;
  for (const row of rows.values()) row.item.classList.toggle('pending', row.typing > 0 || (view?.pending(row.view.id).length ?? 0) > 0);
}

/**
 * Queued edits are kept in IndexedDB, whose writes finish after the page may be gone: text
 * still being stored when the page is left is also written to localStorage at once (which is
 * synchronous), and queued again as an edit when the session opens next. Without IndexedDB,
 * leaving with unsent edits asks first.
 */
const RESCUE_KEY = 'tessera.rescue';

window.addEventListener('beforeunload', (event) => {
  const typing = [...rows.values()].filter((r) => r.typing > 0);
  if (typing.length > 0 && sessionKey) {
    localStorage.setItem(
      RESCUE_KEY,
      JSON.stringify({ key: sessionKey, texts: Object.fromEntries(typing.map((r) => [r.view.id, r.text.value])) }),
    );
  }
  if (!durable && (outbox?.unsent ?? 0) > 0) {
    event.preventDefault();
    event.returnValue = '';
  }
});

/** Text that was still being stored when the page was left last time: queued again where it differs from what the view shows. */
function rescueTyping(key: string): void {
  const raw = localStorage.getItem(RESCUE_KEY);
  if (!raw) return;
  localStorage.removeItem(RESCUE_KEY);
  let rescued: { key?: unknown; texts?: Record<string, unknown> };
  try {
    rescued = JSON.parse(raw) as typeof rescued;
  } catch {
    return;
  }
  if (rescued.key !== key || !rescued.texts) return;
  for (const [id, text] of Object.entries(rescued.texts)) {
    const row = rows.get(id);
    if (!row || typeof text !== 'string' || text === textOf(row.view)) continue;
    row.text.value = text;
    void edit(row, text);
  }
}

// A browser that knows it is offline says so before the socket notices: stop trying, and start again when it returns.
window.addEventListener('offline', () => client?.socket.disconnect());
window.addEventListener('online', () => client?.socket.connect());

// ---------------------------------------------------------------------------- blocks

function sortedRows(): Row[] {
  const order = new Map((view?.blocks ?? []).map((block, index) => [block.id, index]));
  return [...rows.values()].filter((row) => order.has(row.view.id)).sort((a, b) => order.get(a.view.id)! - order.get(b.view.id)!);
}

/** Shows the session view's document: new rows, changed text (unless the user is typing there), order. */
function render(): void {
  if (view) {
    const blocks = view.blocks;
    const present = new Set(blocks.map((block) => block.id));
    for (const id of [...rows.keys()]) if (!present.has(id)) rows.delete(id);
    for (const block of blocks) {
      const row = rowFor(block);
      row.view = block;
      if (row.typing === 0 && row.text.value !== textOf(block)) row.text.value = textOf(block);
    }
  }
  const list = element<HTMLOListElement>('blocks');
  const ordered = sortedRows();
  ordered.forEach((row, index) => {
    if (list.children[index] !== row.item) list.insertBefore(row.item, list.children[index] ?? null);
    row.item.setAttribute('aria-label', `Block ${index + 1} of ${ordered.length}, ${row.view.type}`);
  });
  for (const child of [...list.children]) if (!ordered.some((r) => r.item === child)) child.remove();
  showCursors();
  showConnection();
}

function rowFor(block: BlockView): Row {
  const existing = rows.get(block.id);
  if (existing) return existing;
  const item = create('li', { className: 'block' });
  item.dataset.id = block.id;
  item.dataset.type = block.type;
  const head = create('div', { className: 'block-head' });
  const type = create('span', { className: 'type', textContent: block.type });
  const cursors = create('span', { className: 'cursors' });
  const actions = create('span', { className: 'actions' });
  const up = create('button', { type: 'button', className: 'quiet', textContent: '↑', title: 'Move up' });
  const down = create('button', { type: 'button', className: 'quiet', textContent: '↓', title: 'Move down' });
  const remove = create('button', { type: 'button', className: 'quiet', textContent: 'Delete', title: 'Delete block' });
  up.setAttribute('aria-label', 'Move block up');
  down.setAttribute('aria-label', 'Move block down');
  remove.setAttribute('aria-label', 'Delete block');
  actions.append(up, down, remove);
  head.append(type, cursors, actions);
  const text = create('textarea', { rows: 2, value: textOf(block), readOnly: role === 'viewer' });
  text.setAttribute('aria-label', `${block.type} text`);
  item.append(head, text);
  const row: Row = { view: block, item, text, cursors, typing: 0 };
  rows.set(block.id, row);

  text.addEventListener('input', () => void edit(row, text.value));
  const tellCursor = () => feed?.updatePresence({ cursor: { blockId: row.view.id, offset: text.selectionStart ?? 0 } });
  text.addEventListener('focus', tellCursor);
  text.addEventListener('keyup', tellCursor);
  text.addEventListener('click', tellCursor);
  up.addEventListener('click', () => void move(row, -1));
  down.addEventListener('click', () => void move(row, 1));
  remove.addEventListener('click', () => void removeBlock(row));
  return row;
}

/**
 * Every change of the text is queued at once, based on the version the user sees: it shows
 * now, survives a reload, and quick typing folds into one entry while an earlier one is out.
 */
async function edit(row: Row, text: string): Promise<void> {
  if (!view || role === 'viewer') return;
  row.typing++;
  showConnection();
  try {
    await view.update(row.view.id, { content: { ...row.view.content, text } });
  } catch (error) {
    element('start-error').textContent = error instanceof Error ? error.message : String(error);
  } finally {
    row.typing--;
    render();
  }
}

/** What the outbox says of each edit of this session: conflicts go to the user, refusals are told. */
function onOutcome(outcome: Outcome): void {
  if (outcome.kind === 'conflict') {
    const { edit } = outcome.entry;
    const content = edit.op === 'update' ? edit.content : undefined;
    if (content) void resolveConflict(outcome.current, typeof content.text === 'string' ? content.text : '');
    // A move or a delete has no text to compare: the block stays as the other person left it, and the user is told.
    else if (edit.op === 'move') say('Someone changed a block you moved before your move arrived: it stays where they left it.');
    else if (edit.op === 'delete') say('Someone changed a block you deleted before your delete arrived: it was kept, with their change.');
  } else if (outcome.kind === 'rejected') {
    if (outcome.error.code === 'READ_ONLY') say('This session is read only for you now: your last edit was not saved.');
    else if (outcome.error.code === 'BLOCK_NOT_FOUND')
      say(`Someone deleted a block before your ${verbOf(outcome.entry.edit.op)} arrived: it was not applied.`);
    else element('start-error').textContent = outcome.error.message;
  }
  render();
}

const verbOf = (op: Outcome['entry']['edit']['op']): string =>
  ({ create: 'new block', update: 'edit', move: 'move', delete: 'delete' })[op];

/** Conflicts waiting for the dialog, by block: a later edit of the same block replaces what "mine" shows. */
const conflicts = new Map<string, { current: BlockView; mine: string }>();
let resolving = false;

/** Someone else's write won: both versions are shown and the user picks, one block at a time. */
async function resolveConflict(current: BlockView, mine: string): Promise<void> {
  conflicts.set(current.id, { current, mine });
  if (resolving) return;
  resolving = true;
  try {
    for (let next = conflicts.entries().next(); !next.done; next = conflicts.entries().next()) {
      const [id, conflict] = next.value;
      conflicts.delete(id);
      await askUser(conflict.current, conflict.mine);
    }
  } finally {
    resolving = false;
  }
}

async function askUser(current: BlockView, mine: string): Promise<void> {
  const dialog = element<HTMLDialogElement>('conflict');
  element('conflict-mine').textContent = mine;
  element('conflict-theirs').textContent = textOf(current);
  const by = current.updatedBy?.displayName ?? 'someone';
  element('conflict-who').textContent = `${by} saved version ${current.version} of this block before your edit reached the server.`;
  element('conflict-theirs-caption').textContent = `${by}'s version`;
  dialog.returnValue = '';
  dialog.showModal();
  const choice = await new Promise<string>((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }),
  );
  const block = view?.block(current.id);
  // "Mine": a new edit on top of the version the user was just shown.
  if (choice === 'mine' && view && block) await view.update(block.id, { content: { ...block.content, text: mine } });
  render();
}

async function move(row: Row, step: -1 | 1): Promise<void> {
  const ordered = sortedRows();
  const neighbour = ordered[ordered.indexOf(row) + step];
  if (!view || !neighbour) return;
  await view.move(row.view.id, step < 0 ? { beforeId: neighbour.view.id } : { afterId: neighbour.view.id });
  render();
  row.text.focus();
}

async function removeBlock(row: Row): Promise<void> {
  if (!view) return;
  await view.delete(row.view.id);
  render();
}

function onChange(change: ChangeEvent): void {
  trackSeq(change.seq);
  // A session change carries only what changed: the title is there only when it did.
  if (change.kind === 'session.updated' && change.session?.title !== undefined) {
    element('session-title').textContent = change.session.title || 'Untitled';
  }
  if (change.member) share.membersChanged();
}

// ---------------------------------------------------------------------------- history: undo, redo, earlier changes

let latestSeq = 0;

/** Undo or redo the user's own latest step; the server decides, and everyone (us too) gets the changes live. */
async function invert(direction: 'undo' | 'redo'): Promise<void> {
  if (!feed) return;
  const status = element('history-status');
  try {
    const { changes } = await (direction === 'undo' ? feed.undo() : feed.redo());
    status.textContent = `${direction === 'undo' ? 'Undid' : 'Redid'} ${changes.length} ${changes.length === 1 ? 'change' : 'changes'}.`;
  } catch (error) {
    const code = error instanceof TesseraError ? error.code : '';
    status.textContent =
      code === 'NOTHING_TO_UNDO'
        ? 'Nothing of yours to undo.'
        : code === 'NOTHING_TO_REDO'
          ? 'Nothing to redo.'
          : code === 'VERSION_CONFLICT'
            ? 'Someone changed this since: it cannot be undone.'
            : code === 'AUTH_REQUIRED'
              ? 'Undo needs an account.'
              : error instanceof Error
                ? error.message
                : String(error);
  }
}

/** Ctrl/Cmd+Z undoes and Ctrl/Cmd+Shift+Z (or Ctrl+Y) redoes, unless a block holds typing not yet saved: that is the text field's own undo. */
function onHistoryKey(event: KeyboardEvent): void {
  if (!(event.ctrlKey || event.metaKey) || event.altKey || !sessionKey) return;
  const key = event.key.toLowerCase();
  if (key !== 'z' && key !== 'y') return;
  const typing = [...rows.values()].find((row) => row.text === document.activeElement);
  if (typing && (typing.typing > 0 || (view?.pending(typing.view.id).length ?? 0) > 0)) return;
  event.preventDefault();
  void invert(key === 'y' || event.shiftKey ? 'redo' : 'undo');
}

/** The slider reaches from the session's start to now; an earlier change is shown read-only beside its diff against now. */
function trackSeq(seq: number): void {
  const slider = element<HTMLInputElement>('history-slider');
  const atNow = Number(slider.value) >= latestSeq;
  latestSeq = Math.max(latestSeq, seq);
  slider.max = String(latestSeq);
  if (atNow) {
    slider.value = String(latestSeq);
    element('history-seq').textContent = `${latestSeq} (now)`;
  }
}

let shown = 0;
async function showEarlier(seq: number): Promise<void> {
  const view = element('history-view');
  const asked = ++shown;
  element('history-seq').textContent = seq >= latestSeq ? `${seq} (now)` : String(seq);
  if (!sessionKey || seq >= latestSeq) {
    view.hidden = true;
    return;
  }
  try {
    const [past, diff] = await Promise.all([
      api<{ title: string; blocks: BlockView[] }>('GET', `/api/sessions/${sessionKey}?atSeq=${seq}`),
      api<{ blocks: Array<{ id: string; change: string; before: BlockView | null; after: BlockView | null }> }>(
        'GET',
        `/api/sessions/${sessionKey}/diff?from=${seq}&to=${latestSeq}`,
      ),
    ]);
    if (asked !== shown) return;
    element('history-summary').textContent =
      `“${past.title || 'Untitled'}” as of change ${seq}: ${past.blocks.length} ${past.blocks.length === 1 ? 'block' : 'blocks'}. Since then:`;
    element('history-blocks').replaceChildren(...past.blocks.map((b) => create('li', { textContent: textOf(b) || '(empty)' })));
    element('history-diff').replaceChildren(
      ...(diff.blocks.length === 0
        ? [create('li', { textContent: 'no block changed' })]
        : diff.blocks.map((d) => {
            const item = create('li', { textContent: `${d.change}: ${textOf((d.after ?? d.before)!) || '(empty)'}` });
            item.dataset.change = d.change;
            return item;
          })),
    );
    view.hidden = false;
  } catch (error) {
    if (asked !== shown) return;
    element('history-summary').textContent =
      error instanceof TesseraError && error.code === 'CHANGES_EXPIRED' ? 'That change is older than the history kept.' : String(error);
    element('history-blocks').replaceChildren();
    element('history-diff').replaceChildren();
    view.hidden = false;
  }
}

function wireHistory(): void {
  element('undo').addEventListener('click', () => void invert('undo'));
  element('redo').addEventListener('click', () => void invert('redo'));
  document.addEventListener('keydown', onHistoryKey);
  const slider = element<HTMLInputElement>('history-slider');
  slider.addEventListener('input', () => void showEarlier(Number(slider.value)));
}

// ---------------------------------------------------------------------------- presence

function showCursors(): void {
  for (const row of rows.values()) row.cursors.replaceChildren();
  const people = element('people');
  people.replaceChildren(
    ...members.map((member) => {
      const mine = member.userId !== null && member.userId === identity.userId;
      const where = member.cursor ? sortedRows().findIndex((r) => r.view.id === member.cursor!.blockId) : -1;
      const row = member.cursor && rows.get(member.cursor.blockId);
      if (row && !mine) {
        const badge = create('span', { className: 'cursor', textContent: member.displayName });
        badge.style.background = member.color;
        badge.title = `${member.displayName} is here`;
        row.cursors.append(badge);
      }
      const swatch = create('span', { className: 'swatch' });
      swatch.style.background = member.color;
      const item = create('li');
      item.append(swatch, `${member.displayName}${mine ? ' (you)' : ''}`);
      if (where >= 0) item.append(create('span', { className: 'where', textContent: `in block ${where + 1}` }));
      return item;
    }),
  );
}

// ---------------------------------------------------------------------------- jobs

const jobItems = new Map<string, HTMLLIElement>();

/** How far along a job is: events can arrive out of order (the socket's and a GET's), never step back. */
const JOB_STAGE: Record<JobEvent['state'], number> = { waiting: 0, delayed: 0, active: 1, completed: 2, failed: 2 };

function showJob(event: JobEvent): void {
  const item = jobItems.get(event.jobId);
  if (!item) return;
  const reached = Number(item.dataset.stage ?? 0);
  if (JOB_STAGE[event.state] < reached) return;
  item.dataset.stage = String(JOB_STAGE[event.state]);
  const label = item.querySelector('.label')!;
  const bar = item.querySelector('progress')!;
  const percent = typeof event.progress === 'number' ? event.progress : ((event.progress as { percent?: number })?.percent ?? undefined);
  if (percent !== undefined) bar.value = Math.max(bar.value, percent);
  label.textContent = `${item.dataset.title}: ${event.state}`;
  if (event.state === 'completed') {
    bar.value = 100;
    const artifactId = event.result?.artifactId;
    if (artifactId && !item.querySelector('button')) {
      const download = create('button', { type: 'button', textContent: 'Download' });
      download.addEventListener('click', () => void downloadArtifact(artifactId));
      item.append(download);
    }
    if (event.result?.blockIds) label.textContent = `${item.dataset.title}: added ${event.result.blockIds.length} blocks`;
  }
  if (event.state === 'failed') {
    label.classList.add('failed');
    label.textContent = `${item.dataset.title}: failed (${event.error?.message ?? 'unknown error'})`;
  }
}

async function startJob(title: string, path: string, body: unknown): Promise<void> {
  const { jobId } = await api<{ jobId: string }>('POST', `/api/sessions/${sessionKey}/${path}`, body);
  const item = create('li');
  item.dataset.title = title;
  item.append(create('span', { className: 'label', textContent: `${title}: waiting` }), create('progress', { max: 100, value: 0 }));
  jobItems.set(jobId, item);
  element('jobs').prepend(item);
  // The room may have heard about the job before this request returned: ask once.
  const view = await api<JobEvent & { id: string }>('GET', `/api/jobs/${jobId}`).catch(() => undefined);
  if (view) showJob({ ...view, jobId });
}

async function downloadArtifact(id: string): Promise<void> {
  const { url } = await api<{ url: string }>('GET', `/api/artifacts/${id}/download`);
  const link = create('a', { href: url, download: '' });
  document.body.append(link);
  link.click();
  link.remove();
}

// ---------------------------------------------------------------------------- sessions

async function openSession(key: string): Promise<void> {
  const session = await api<{ key: string; title: string; seq: number; role: Role; blocks: BlockView[] }>('GET', `/api/sessions/${key}`);
  for (const off of unsubscribe) off();
  unsubscribe = [];
  sessionKey = session.key;
  element('notice').hidden = true;
  history.replaceState(null, '', `/?=${session.key}`);
  element('start').hidden = true;
  element('session').hidden = false;
  element('session-title').textContent = session.title || 'Untitled';
  const link = element<HTMLAnchorElement>('share-link');
  link.href = `/?=${session.key}`;
  link.textContent = `${location.origin}/?=${session.key}`;
  document.title = `${session.title || 'Untitled'} · Tessera`;
  view?.close();
  rows.clear();
  latestSeq = 0;
  trackSeq(session.seq);
  // The server's blocks with this browser's unsent edits of the session on top (kept from before a reload too).
  const opened = new SessionView(client.feed(session.key), outbox, session.blocks);
  view = opened;
  feed = opened.feed;
  share.setSession(session.key, session.role);
  applyRole(session.role);
  render();
  if (role !== 'viewer') rescueTyping(session.key);
  unsubscribe = [
    opened.on('document', render),
    opened.on('outcome', onOutcome),
    opened.on('reset', () => void openSession(session.key)),
    feed.on('change', onChange),
    feed.on('presence', (list) => {
      members = list;
      showCursors();
    }),
    feed.on('role', (next) => roleChanged(next as Role)),
    feed.on('revoked', (reason) =>
      closeSession(
        reason === 'deleted'
          ? 'This session was deleted.'
          : 'You no longer have access to this session: the owner removed you or made it private.',
      ),
    ),
  ];
  // Edits are queued even before the join; the buttons wait for it so the page shows the room first.
  setWritable(false);
  const joined = await client.join(session.key, session.seq);
  setWritable(true);
  members = joined.members;
  showCursors();
}

/** A line under the session's title: what just changed for the user. */
function say(text: string): void {
  const notice = element('notice');
  notice.textContent = text;
  notice.hidden = false;
}

const ROLE_NAME: Record<Role, string> = { owner: 'the owner', editor: 'an editor', viewer: 'a viewer' };

/** What the page offers follows the caller's role: viewers read, only the owner manages people. */
function applyRole(next: Role): void {
  role = next;
  const viewer = role === 'viewer';
  document.body.dataset.role = role;
  element('role-badge').textContent = viewer ? 'Read only' : role === 'owner' ? 'Owner' : 'Editor';
  element('add-form').hidden = viewer;
  element('generate-form').hidden = viewer;
  // Edits still queued when the role was lowered come back refused (READ_ONLY), and the page shows the server's text.
  for (const row of rows.values()) row.text.readOnly = viewer;
  share.setRole(role);
  showConnection();
}

/** `session.role`: the owner changed the caller's role while the session is open. */
function roleChanged(next: Role): void {
  const before = role;
  applyRole(next);
  if (next === 'viewer') say('The owner made you a viewer: this session is read only for you now.');
  else if (before === 'viewer') say(`You can edit again: you are now ${ROLE_NAME[next]} of this session.`);
  else say(`You are now ${ROLE_NAME[next]} of this session.`);
}

/** Access is gone (`session.revoked`): nothing more can be read or written here. */
function closeSession(message: string): void {
  for (const off of unsubscribe) off();
  unsubscribe = [];
  feed = undefined;
  view?.close();
  view = undefined;
  share.close();
  rows.clear();
  render();
  history.replaceState(null, '', '/');
  document.title = 'Tessera editor';
  element('start-error').textContent = message;
  element('session').hidden = true;
  element('start').hidden = false;
}

/** `/?invite=<token>`: joins the session the invitation is for, then opens it. */
async function acceptInvite(token: string): Promise<void> {
  if (!identity.token) {
    element('start-error').textContent =
      'Accepting an invitation needs an account, and none could be made for this browser just now: open the link again to retry.';
    return;
  }
  try {
    const joined = await api<{ session: { key: string; title: string }; role: Role }>(
      'POST',
      `/api/invites/${encodeURIComponent(token)}/accept`,
    );
    await openSession(joined.session.key);
    say(`You joined “${joined.session.title || 'Untitled'}” as ${ROLE_NAME[joined.role]}.`);
  } catch (error) {
    const code = error instanceof TesseraError ? error.code : '';
    element('start-error').textContent =
      code === 'INVITE_EXPIRED'
        ? 'This invitation has expired, was revoked or has been used up: ask the person who sent it for a new link.'
        : code === 'INVITE_NOT_FOUND'
          ? 'This invitation link is not valid: check that the whole link was copied.'
          : error instanceof Error
            ? error.message
            : String(error);
  }
}

function setWritable(writable: boolean): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('#add-form button')) button.disabled = !writable;
}

function wireForms(): void {
  element<HTMLFormElement>('create-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const typeSlug = element<HTMLSelectElement>('create-type').value;
    const title = element<HTMLInputElement>('create-title').value.trim() || 'Untitled';
    const visibility = element<HTMLSelectElement>('create-visibility').value;
    api<{ key: string }>('POST', '/api/sessions', { typeSlug, title, visibility }).then(
      ({ key }) => openSession(key),
      (error: Error) => (element('start-error').textContent = error.message),
    );
  });
  element<HTMLFormElement>('open-form').addEventListener('submit', (event) => {
    event.preventDefault();
    openSession(element<HTMLInputElement>('open-key').value.trim().toUpperCase()).catch(
      (error: Error) =>
        (element('start-error').textContent =
          error instanceof TesseraError && error.code === 'SESSION_NOT_FOUND' ? 'No session has this key.' : error.message),
    );
  });
  element<HTMLFormElement>('add-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (!view) return;
    const type = element<HTMLSelectElement>('add-type').value;
    // The block has its id from the start: it shows at once, and edits to it queue behind its creation.
    view.create({ type, content: { text: '' } }).then(
      (entry) => {
        render();
        rows.get(entry.edit.id)?.text.focus();
      },
      (error: Error) => (element('start-error').textContent = error.message),
    );
  });
  element<HTMLFormElement>('export-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const format = element<HTMLSelectElement>('export-format').value;
    void startJob(`Export (${format})`, 'exports', { format }).catch(
      (error: Error) => (element('start-error').textContent = error.message),
    );
  });
  element<HTMLFormElement>('generate-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const kind = (event.submitter as HTMLButtonElement | null)?.value ?? 'generate';
    const prompt = element<HTMLTextAreaElement>('generate-prompt').value.trim();
    const [title, path] = kind === 'think' ? ['Plan', 'think'] : kind === 'image' ? ['Image', 'images'] : ['Generate', 'generate'];
    void startJob(title, path, { prompt }).catch((error: Error) => (element('start-error').textContent = error.message));
  });
}

/** The outbox in IndexedDB (what it holds from before a reload is sent at once), or in memory where there is none. */
async function openOutbox(): Promise<Outbox> {
  if (globalThis.indexedDB) {
    const stored = new Outbox(client, new IndexedDbOutboxStore());
    const opened = await stored.open().then(
      () => true,
      () => false,
    );
    if (opened) return stored;
  }
  durable = false;
  const memory = new Outbox(client, new MemoryOutboxStore());
  await memory.open();
  return memory;
}

async function main(): Promise<void> {
  wireForms();
  wireHistory();
  identity = await loadIdentity();
  element('me').textContent = `You are ${identity.name}`;
  client = new TesseraClient({ url: location.origin, token: identity.token });
  outbox = await openOutbox();
  outbox.on('status', showConnection);
  client.socket.on('connect', showConnection);
  client.socket.on('disconnect', showConnection);
  client.socket.on('job', (event: JobEvent) => showJob(event));
  await client.connect().catch(() => undefined);
  showConnection();
  const invite = new URLSearchParams(location.search).get('invite');
  if (invite !== null) return acceptInvite(invite);
  const key = /^\?=([A-Za-z0-9]{3,12})$/.exec(location.search)?.[1];
  if (key) await openSession(key.toUpperCase()).catch((error: Error) => (element('start-error').textContent = error.message));
}

void main();
