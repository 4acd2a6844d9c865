import { describe, expect, it } from '@jest/globals';
import { changeBatch } from '../../src/collaboration/change-batch.js';
import type { CommittedChange } from '../../src/events/app-events.js';

const committed = (seq: number, extra: Partial<CommittedChange> = {}): CommittedChange => ({
  sessionKey: 'k',
  sessionId: 'id',
  visibility: 'private',
  ownerId: 'owner',
  memberRoles: { alice: 'editor' },
  change: { seq, kind: 'block.updated', actor: { userId: 'owner', displayName: 'Owner' }, at: '2026-01-01T00:00:00.000Z' },
  ...extra,
});

describe('changeBatch', () => {
  it('orders the changes by seq and sends each distinct audience once', () => {
    const batch = changeBatch('k', [
      committed(3),
      committed(1),
      committed(2, { memberRoles: {}, rolesChanged: ['alice'], change: { ...committed(2).change, kind: 'member.removed' } }),
      committed(4, { memberRoles: {} }),
    ]);
    expect(batch.items.map((item) => item.change.seq)).toEqual([1, 2, 3, 4]);
    expect(batch.audiences).toEqual([
      { visibility: 'private', ownerId: 'owner', memberRoles: { alice: 'editor' } },
      { visibility: 'private', ownerId: 'owner', memberRoles: {} },
    ]);
    expect(batch.items.map((item) => item.audience)).toEqual([0, 1, 0, 1]);
    // The removed member still gets the removal itself.
    expect(batch.items[1].concerns).toEqual(['alice']);
    expect(batch.items.filter((item) => item.concerns || item.everyone)).toHaveLength(1);
  });

  it('sends the change that lowered visibility to everyone who was in the room', () => {
    const batch = changeBatch('k', [committed(7, { visibilityLowered: true, memberRoles: undefined })]);
    expect(batch.items[0]).toMatchObject({ everyone: true, audience: 0 });
    expect(batch.audiences[0]).toEqual({ visibility: 'private', ownerId: 'owner', memberRoles: null });
  });
});
