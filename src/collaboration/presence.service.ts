import { createHash } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import { actorOf, type Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import { roomOf } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';
import type { Member } from '../contract/presence.js';

/** One entry per socket; a member is a user (all their sockets) or an anonymous socket. */
interface SocketPresence {
  memberId: string;
  /** Whose seat cap the socket counts toward; never shown to others. */
  ip: string;
  /** The owner, a member or an operator: always gets in, and takes no seat from the others. */
  privileged: boolean;
  userId: string | null;
  displayName: string;
  cursor?: { blockId: string; offset: number };
  selection?: unknown;
  status: string;
  seen: number;
  /** Given by the join script: the same for all of a member's sockets, distinct within the session while the palette lasts. */
  color?: string;
}

/** An entry not refreshed for this long belongs to a dead instance or socket. */
export const PRESENCE_STALE_MS = 45_000;
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#469990', '#9a6324', '#800000'];

/**
 * Joins atomically under the seat caps: counts the distinct fresh members holding a seat
 * (everyone but the privileged: the owner, members and operators), in all and from this socket's IP,
 * and adds this socket unless it is privileged or already a member, or either cap is reached.
 * The socket gets its member's colour: the one its other sockets have, else the member's
 * preferred colour or the next one in the palette nobody present has (the preferred one
 * when all are taken), so colours differ within a session while the palette lasts.
 * KEYS: 1 presence hash; ARGV: socket id, member id, entry, now ms, stale ms, max members,
 * key ttl ms, ip, privileged (1/0), max seats per IP, preferred colour index (0-based),
 * palette (comma-separated). Returns 1 joined, 0 full.
 */
const JOIN_SCRIPT = `
local entries = redis.call('HGETALL', KEYS[1])
local members, fromIp, taken, present, own = {}, {}, {}, false, nil
local count, ipCount = 0, 0
for i = 1, #entries, 2 do
  local e = cjson.decode(entries[i + 1])
  if tonumber(e.seen) >= tonumber(ARGV[4]) - tonumber(ARGV[5]) then
    if e.memberId == ARGV[2] then present = true; own = own or e.color
    elseif e.color then taken[e.color] = true end
    if e.privileged ~= true then
      if not members[e.memberId] then members[e.memberId] = true; count = count + 1 end
      if e.ip == ARGV[8] and not fromIp[e.memberId] then fromIp[e.memberId] = true; ipCount = ipCount + 1 end
    end
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
if ARGV[9] ~= '1' and not present and (count >= tonumber(ARGV[6]) or ipCount >= tonumber(ARGV[10])) then return 0 end
local palette = {}
for color in string.gmatch(ARGV[12], '[^,]+') do palette[#palette + 1] = color end
local preferred = tonumber(ARGV[11])
local color = own
if not color then
  color = palette[preferred + 1]
  for step = 0, #palette - 1 do
    local candidate = palette[((preferred + step) % #palette) + 1]
    if not taken[candidate] then color = candidate; break end
  end
end
local entry = cjson.decode(ARGV[3])
entry.color = color
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1`;

/**
 * Drops the entries not refreshed within the stale window. KEYS: 1 presence hash; ARGV: now
 * ms, stale ms. Returns how many it dropped.
 */
const SWEEP_SCRIPT = `
local entries = redis.call('HGETALL', KEYS[1])
local dropped = 0
for i = 1, #entries, 2 do
  local e = cjson.decode(entries[i + 1])
  if tonumber(e.seen) < tonumber(ARGV[1]) - tonumber(ARGV[2]) then
    redis.call('HDEL', KEYS[1], entries[i])
    dropped = dropped + 1
  end
end
return dropped`;

interface PresenceScripts {
  presenceJoin(...args: Array<string | number>): Promise<number>;
  presenceSweep(...args: Array<string | number>): Promise<number>;
}

/** Who is in each session, kept in Redis so every instance sees the same members. */
@Injectable()
export class PresenceService implements OnModuleInit {
  constructor(
    private readonly redis: RedisService,
    private readonly server: CollabServer,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.redis.client.defineCommand('presenceJoin', { numberOfKeys: 1, lua: JOIN_SCRIPT });
    this.redis.client.defineCommand('presenceSweep', { numberOfKeys: 1, lua: SWEEP_SCRIPT });
  }

  /**
   * False when the room is full for this socket: SESSION_MAX_MEMBERS seats are shared by
   * everyone but the privileged (the owner, members, operators), and one IP holds at most
   * SESSION_MAX_SEATS_PER_IP of them. A member already present (another tab) always gets in.
   */
  async join(key: string, socketId: string, principal: Principal, seat: { privileged: boolean }): Promise<boolean> {
    const entry: SocketPresence = {
      memberId: principal.kind === 'user' ? `user:${principal.userId}` : `socket:${socketId}`,
      ip: principal.ip,
      privileged: seat.privileged,
      userId: principal.kind === 'user' ? principal.userId : null,
      displayName: actorOf(principal).displayName,
      status: 'active',
      seen: Date.now(),
    };
    const joined = await (this.redis.client as unknown as PresenceScripts).presenceJoin(
      this.hashKey(key),
      socketId,
      entry.memberId,
      JSON.stringify(entry),
      entry.seen,
      PRESENCE_STALE_MS,
      this.config.SESSION_MAX_MEMBERS,
      PRESENCE_STALE_MS * 2,
      entry.ip,
      seat.privileged ? 1 : 0,
      this.config.SESSION_MAX_SEATS_PER_IP,
      preferredColor(entry.memberId),
      PALETTE.join(','),
    );
    return joined === 1;
  }

  /** Merges the socket's cursor, selection or status; false if the socket is not present. */
  async update(
    key: string,
    socketId: string,
    change: Pick<SocketPresence, 'cursor' | 'selection'> & { status?: string },
  ): Promise<boolean> {
    const raw = await this.redis.client.hget(this.hashKey(key), socketId);
    if (!raw) return false;
    const entry = { ...(JSON.parse(raw) as SocketPresence), ...change, seen: Date.now() };
    await this.redis.client.hset(this.hashKey(key), socketId, JSON.stringify(entry));
    return true;
  }

  /** Everyone out: the session is gone. */
  async clear(key: string): Promise<void> {
    await this.redis.client.del(this.hashKey(key));
  }

  async leave(key: string, socketId: string): Promise<void> {
    await this.redis.client.hdel(this.hashKey(key), socketId);
  }

  /** Heartbeat: marks these sockets of this instance as alive in each of their sessions. */
  async refresh(sockets: Array<{ key: string; socketId: string }>): Promise<void> {
    if (sockets.length === 0) return;
    const now = Date.now();
    const reads = this.redis.client.pipeline();
    for (const { key, socketId } of sockets) reads.hget(this.hashKey(key), socketId);
    const results = (await reads.exec()) ?? [];
    const writes = this.redis.client.pipeline();
    sockets.forEach(({ key, socketId }, i) => {
      const raw = results[i]?.[1] as string | null;
      if (!raw) return;
      writes.hset(this.hashKey(key), socketId, JSON.stringify({ ...(JSON.parse(raw) as SocketPresence), seen: now }));
      writes.pexpire(this.hashKey(key), PRESENCE_STALE_MS * 2);
    });
    await writes.exec();
  }

  /**
   * Removes the members of dead instances and sockets from every session and tells the
   * rooms that lost someone, so nobody keeps seeing a crashed instance's cursors.
   */
  async sweep(): Promise<{ sessions: number; dropped: number }> {
    const prefix = `${this.config.REDIS_PREFIX}presence:`;
    const scripts = this.redis.client as unknown as PresenceScripts;
    let cursor = '0';
    let sessions = 0;
    let dropped = 0;
    do {
      const [next, keys] = await this.redis.client.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500);
      cursor = next;
      for (const fullKey of keys) {
        const key = fullKey.slice(prefix.length);
        const removed = await scripts.presenceSweep(this.hashKey(key), Date.now(), PRESENCE_STALE_MS);
        if (removed === 0) continue;
        sessions++;
        dropped += removed;
        await this.announce(key);
      }
    } while (cursor !== '0');
    return { sessions, dropped };
  }

  /** Sends the session's members to its room on every instance; returns them. `volatile` for cursor moves. */
  async announce(key: string, volatile = false): Promise<Member[]> {
    const members = await this.members(key);
    const room = this.server.namespace.to(roomOf(key));
    (volatile ? room.volatile : room).emit('presence', { key, members });
    return members;
  }

  /** The session's members: one per user (with their socket count), one per anonymous socket. */
  async members(key: string): Promise<Member[]> {
    const entries = Object.values(await this.redis.client.hgetall(this.hashKey(key))).map((raw) => JSON.parse(raw) as SocketPresence);
    const fresh = entries.filter((e) => e.seen >= Date.now() - PRESENCE_STALE_MS).sort((x, y) => y.seen - x.seen);
    const byMember = new Map<string, Member>();
    for (const e of fresh) {
      const known = byMember.get(e.memberId);
      if (known) known.socketCount++;
      else {
        byMember.set(e.memberId, {
          userId: e.userId,
          displayName: e.displayName,
          color: e.color ?? PALETTE[preferredColor(e.memberId)],
          ...(e.cursor && { cursor: e.cursor }),
          ...(e.selection !== undefined && { selection: e.selection }),
          status: e.status,
          socketCount: 1,
        });
      }
    }
    return [...byMember.values()];
  }

  private hashKey(key: string): string {
    return `presence:${key}`;
  }
}

const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/** Where in the palette a member's colour is looked for first: the same on every instance and every reconnect. */
function preferredColor(memberId: string): number {
  return createHash('sha1').update(memberId).digest()[0] % PALETTE.length;
}
