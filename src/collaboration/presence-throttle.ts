/** At most one presence update per socket and session every this many ms; the latest wins. */
export const PRESENCE_INTERVAL_MS = 50;

/**
 * Coalesces a socket's presence updates: the first goes at once, later ones within the
 * interval are replaced by the newest, which goes when the interval ends (trailing edge).
 */
export class PresenceThrottle {
  private readonly pending = new Map<string, { last: number; timer?: NodeJS.Timeout; run?: () => Promise<void> }>();

  schedule(socketId: string, key: string, run: () => Promise<void>): void {
    const id = `${socketId}|${key}`;
    const slot = this.pending.get(id) ?? { last: 0 };
    this.pending.set(id, slot);
    const wait = slot.last + PRESENCE_INTERVAL_MS - Date.now();
    if (wait <= 0 && !slot.timer) {
      slot.last = Date.now();
      void run().catch(() => undefined);
      return;
    }
    slot.run = run;
    slot.timer ??= setTimeout(
      () => {
        slot.timer = undefined;
        slot.last = Date.now();
        const next = slot.run;
        slot.run = undefined;
        void next?.().catch(() => undefined);
      },
      Math.max(wait, 0),
    );
  }

  forget(socketId: string): void {
    for (const [id, slot] of this.pending) {
      if (!id.startsWith(`${socketId}|`)) continue;
      clearTimeout(slot.timer);
      this.pending.delete(id);
    }
  }
}
