import { z } from 'zod';
import type { Plan } from '../generated/prisma/enums.js';

export const RATE_LIMITED_ACTIONS = [
  'ai-generation',
  'image-generation',
  'block-edits',
  'exports',
  'session-creates',
  'session-saves',
  'snapshots',
  'registrations',
  'login-failures',
  'login-failures-account',
  'member-changes',
  'webhook-changes',
  'time-travel',
] as const;
export type RateLimitedAction = (typeof RATE_LIMITED_ACTIONS)[number];

/** `null`: unlimited, decided without a Redis round trip. */
export type Window = { limit: number; windowSeconds: number } | null;
/** `anonymous` (per IP) falls back to `FREE` when a policy does not name it. */
export type Policy = Record<Plan | 'global', Window> & { anonymous?: Window };

const perHour = (limit: number): Window => ({ limit, windowSeconds: 3600 });
const per15Minutes = (limit: number): Window => ({ limit, windowSeconds: 900 });
const perMinute = (limit: number): Window => ({ limit, windowSeconds: 60 });
/** One window for every caller alike: actions of anonymous requests, counted per IP (or per account). */
const perIpOnly = (window: Window): Policy => ({ anonymous: window, FREE: window, PRO: window, ENTERPRISE: window, global: null });

/**
 * The documented limits (docs/api.md, Rate limits), per user (per IP when anonymous), plus a cluster-wide cap per action that
 * protects the providers behind it. Operators override any of it with RATE_LIMIT_POLICIES.
 */
export const DEFAULT_POLICIES: Record<RateLimitedAction, Policy> = {
  'ai-generation': { FREE: perHour(10), PRO: perHour(50), ENTERPRISE: perHour(200), global: perHour(20_000) },
  'image-generation': { FREE: perHour(5), PRO: perHour(25), ENTERPRISE: perHour(100), global: perHour(10_000) },
  'block-edits': { FREE: { limit: 1000, windowSeconds: 60 }, PRO: null, ENTERPRISE: null, global: null },
  exports: { FREE: perHour(20), PRO: perHour(100), ENTERPRISE: perHour(400), global: perHour(40_000) },
  'session-creates': { anonymous: perHour(60), FREE: perHour(200), PRO: perHour(2000), ENTERPRISE: null, global: null },
  // Saves, deletes and restores of a session: each takes the session's row lock, and a keyed refusal is recorded for 24 h.
  'session-saves': {
    anonymous: perMinute(300),
    FREE: perMinute(600),
    PRO: perMinute(3000),
    ENTERPRISE: perMinute(10_000),
    global: null,
  },
  snapshots: { anonymous: perHour(20), FREE: perHour(30), PRO: perHour(300), ENTERPRISE: null, global: null },
  // Member, ownership and invitation writes (and accepts): each takes the session's row lock (a member change a seq too).
  'member-changes': { anonymous: perHour(60), FREE: perHour(300), PRO: perHour(3000), ENTERPRISE: perHour(10_000), global: null },
  // Webhook creates, changes, deletes and redeliveries: a create or a new URL resolves a host name.
  'webhook-changes': { FREE: perHour(60), PRO: perHour(600), ENTERPRISE: perHour(3000), global: null },
  // Past views (`?atSeq=`) and diffs replay the change log and are never cached: tens of milliseconds of database time each.
  'time-travel': {
    anonymous: perMinute(30),
    FREE: perMinute(60),
    PRO: perMinute(300),
    ENTERPRISE: perMinute(600),
    global: null,
  },
  // Registration and login are anonymous requests: their windows are per IP (and, for failed logins, per account).
  registrations: perIpOnly(perHour(10)),
  'login-failures': perIpOnly(per15Minutes(30)),
  'login-failures-account': perIpOnly(per15Minutes(10)),
};

const window = z
  .object({
    limit: z.number().int().min(1),
    windowSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600),
  })
  .strict()
  .nullable();
const policyOverride = z.object({ anonymous: window, FREE: window, PRO: window, ENTERPRISE: window, global: window }).partial().strict();

/** RATE_LIMIT_POLICIES: JSON like {"exports": {"FREE": {"limit": 5, "windowSeconds": 60}, "PRO": null}}. */
export const policyOverrides = z.partialRecord(z.enum(RATE_LIMITED_ACTIONS), policyOverride);
export type PolicyOverrides = z.infer<typeof policyOverrides>;

export function resolvePolicies(overrides: PolicyOverrides = {}): Record<RateLimitedAction, Policy> {
  return Object.fromEntries(
    RATE_LIMITED_ACTIONS.map((action) => [action, { ...DEFAULT_POLICIES[action], ...overrides[action] }]),
  ) as Record<RateLimitedAction, Policy>;
}
