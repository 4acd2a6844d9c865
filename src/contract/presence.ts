/** One person in a session's room, as the `presence` event lists them. */
export interface Member {
  userId: string | null;
  displayName: string;
  color: string;
  cursor?: { blockId: string; offset: number };
  selection?: unknown;
  status: string;
  socketCount: number;
}
