/**
 * The client package carries its own copy of the contract types (its declarations may not
 * reference the server's files). `npm run check` type-checks this file: if the server's
 * contract and the client's copy drift apart in either direction, the check fails.
 */
import type { Actor as ServerActor } from '../../src/contract/actor.js';
import type { BlockView as ServerBlockView } from '../../src/contract/block.js';
import type {
  ChangeEvent as ServerChangeEvent,
  ChangeKind as ServerChangeKind,
  MemberChange as ServerMemberChange,
} from '../../src/contract/change.js';
import type { Member as ServerMember } from '../../src/contract/presence.js';
import type { SessionChange as ServerSessionChange, Visibility as ServerVisibility } from '../../src/contract/session.js';
import type {
  Actor,
  BlockView,
  ChangeEvent,
  ChangeKind,
  Member,
  MemberChange,
  SessionChange,
  Visibility,
} from '../../src/client/protocol.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;

export type ContractInStep = [
  Holds<Same<Actor, ServerActor>>,
  Holds<Same<BlockView, ServerBlockView>>,
  Holds<Same<ChangeEvent, ServerChangeEvent>>,
  Holds<Same<ChangeKind, ServerChangeKind>>,
  Holds<Same<MemberChange, ServerMemberChange>>,
  Holds<Same<Member, ServerMember>>,
  Holds<Same<SessionChange, ServerSessionChange>>,
  Holds<Same<Visibility, ServerVisibility>>,
];
