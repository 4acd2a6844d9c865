import type { Namespace } from 'socket.io';
import type { Principal } from '../common/principal.js';
import type { ChangeEvent } from '../contract/change.js';
import type { CommittedChange } from '../events/app-events.js';
import { roleIn, type Guarded } from '../sessions/session-access.js';
import type { SocketData } from './collab.handshake.js';
import { roomOf } from './collab.protocol.js';

/** The adapter packet that carries a batch between instances; no client is ever sent it. */
export const CHANGE_BATCH_PACKET = 'tessera:changes';

interface BatchItem {
  change: ChangeEvent;
  /** Index of the session as the change's own statement saw it, in the batch's `audiences`. */
  audience: number;
  /** The change that lowered visibility still reaches everyone who was in the room. */
  everyone?: true;
  /** Users whose role the change set, who receive it whatever it left them (a removed member learns of the removal). */
  concerns?: string[];
}

/** The changes one instance committed for one session in one tick, seq ascending. */
export interface ChangeBatch {
  key: string;
  audiences: Guarded[];
  items: BatchItem[];
}

export function changeBatch(key: string, committed: readonly CommittedChange[]): ChangeBatch {
  const audiences: Guarded[] = [];
  const indexOf = new Map<string, number>();
  const items = [...committed]
    .sort((x, y) => x.change.seq - y.change.seq)
    .map((event): BatchItem => {
      const audience: Guarded = { visibility: event.visibility, ownerId: event.ownerId ?? null, memberRoles: event.memberRoles ?? null };
      // Changes of one tick mostly saw the same session: each distinct audience travels once.
      const id = JSON.stringify(audience);
      let index = indexOf.get(id);
      if (index === undefined) indexOf.set(id, (index = audiences.push(audience) - 1));
      return {
        change: event.change,
        audience: index,
        ...(event.visibilityLowered && { everyone: true as const }),
        ...(event.rolesChanged?.length && { concerns: event.rolesChanged }),
      };
    });
  return { key, audiences, items };
}

/**
 * Hands a batch to this instance's sockets in the session's room: each socket gets the
 * changes whose audience includes it, so a change committed after a revocation never
 * reaches the revoked, whichever instance published it and in whatever order batches
 * arrive. Protocol 2 sockets get one `changes` event, protocol 1 sockets one `change` per
 * change. Sockets that get the same changes in the same protocol share one encoding.
 */
export function deliverChanges(namespace: Namespace, batch: ChangeBatch): void {
  const sids = namespace.adapter.rooms.get(roomOf(batch.key));
  if (!sids) return;
  const groups = new Map<string, { protocol: number; items: BatchItem[]; sids: string[] }>();
  for (const sid of sids) {
    const data = namespace.sockets.get(sid)?.data as SocketData | undefined;
    if (!data?.principal) continue;
    const items = batch.items.filter((item) => receives(batch, item, data.principal));
    if (items.length === 0) continue;
    const protocol = data.protocol === 2 ? 2 : 1;
    const signature = `${protocol}:${items.length === batch.items.length ? '*' : items.map((item) => item.change.seq).join(',')}`;
    let group = groups.get(signature);
    if (!group) groups.set(signature, (group = { protocol, items, sids: [] }));
    group.sids.push(sid);
  }
  const { key } = batch;
  for (const { protocol, items, sids: members } of groups.values()) {
    const to = namespace.local.to(members);
    if (protocol === 2) to.emit('changes', { key, changes: items.map((item) => item.change) });
    // The key rides beside the change (a session change names no key of its own), for clients in several rooms.
    else for (const item of items) to.emit('change', item.change, { key });
  }
}

function receives(batch: ChangeBatch, item: BatchItem, principal: Principal): boolean {
  if (item.everyone) return true;
  if (principal.kind === 'user' && item.concerns?.includes(principal.userId)) return true;
  return roleIn(batch.audiences[item.audience], principal) !== null;
}

/** The shape of the sharded adapter's cluster messages this module reads. */
interface ClusterMessage {
  uid: string;
  nsp: string;
  type: number;
  data?: { packet?: { data?: unknown[] }; requestId?: string };
}
/** `MessageType.BROADCAST` of socket.io-adapter's cluster protocol. */
const BROADCAST = 3;

type ClusterAdapterFactory = (namespace: Namespace) => object;

/**
 * The sharded adapter, with batches of changes delivered by `deliverChanges` on the
 * instance that receives them. A batch is published as a broadcast to the session's room
 * (so it rides that room's channel to the instances holding its members) that excludes the
 * room itself: an adapter that does not know batches delivers it to nobody.
 */
export function withChangeBatches<F extends ClusterAdapterFactory>(factory: F): F {
  // A function, not an arrow: Socket.IO calls the factory with `new`, and the object it returns is the adapter.
  return function (namespace: Namespace) {
    const adapter = factory(namespace) as { uid: string; onMessage(message: ClusterMessage, offset?: string): unknown };
    const onMessage = adapter.onMessage.bind(adapter);
    adapter.onMessage = (message, offset) => {
      const data = message.type === BROADCAST && message.uid !== adapter.uid && message.nsp === namespace.name ? message.data : undefined;
      if (data?.requestId === undefined && data?.packet?.data?.[0] === CHANGE_BATCH_PACKET) {
        return deliverChanges(namespace, data.packet.data[1] as ChangeBatch);
      }
      return onMessage(message, offset);
    };
    return adapter;
  } as F;
}
