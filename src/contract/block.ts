import type { Actor } from './actor.js';

/** A block as the API shows it. */
export interface BlockView {
  id: string;
  sessionKey: string;
  type: string;
  content: Record<string, unknown>;
  position: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: Actor;
}
