import type { Principal } from '../auth/principal.js';
import type { Visibility } from '../generated/prisma/enums.js';

interface Guarded {
  ownerId: string | null;
  visibility: Visibility;
}

const isOwner = (s: Guarded, p: Principal) => p.kind === 'admin' || (p.kind === 'user' && s.ownerId === p.userId);

/** Reads the session whatever its visibility (its owner, operators). */
export const readsAlways = (s: Guarded, p: Principal) => isOwner(s, p);
/** `private` sessions do not exist for anyone but their owner (and operators). */
export const canRead = (s: Guarded, p: Principal) => isOwner(s, p) || s.visibility !== 'private';
export const canWrite = (s: Guarded, p: Principal) => isOwner(s, p) || s.visibility === 'link';
/** A session without an owner may be deleted by any key holder. */
export const canDelete = (s: Guarded, p: Principal) => isOwner(s, p) || s.ownerId === null;
export const canChangeVisibility = (s: Guarded, p: Principal) => isOwner(s, p);
