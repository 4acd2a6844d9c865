/**
 * Example values the OpenAPI document shows for the main routes. The README's curl examples are
 * checked against the operations and request schemas of the same document.
 */
const actor = { userId: '6f1c2a3e-5b7d-4c1e-9a2b-3c4d5e6f7a8b', displayName: 'Ada' };
const at = '2026-05-04T09:30:00.000Z';

export const EXAMPLE_BLOCK = {
  id: '0b8f2c1e-4d3a-4e5f-8a6b-7c8d9e0f1a2b',
  sessionKey: 'K7Q',
  type: 'heading',
  content: { text: 'Agenda', level: 1 },
  position: 'a0',
  version: 1,
  createdAt: at,
  updatedAt: at,
  updatedBy: actor,
};

export const EXAMPLE_SESSION = {
  key: 'K7Q',
  typeSlug: 'document',
  title: 'Team notes',
  themeId: null,
  ownerId: actor.userId,
  visibility: 'link',
  version: 1,
  seq: 0,
  metadata: { created: at, lastModified: at },
  state: {},
  createdAt: at,
  updatedAt: at,
  role: 'owner',
};

export const EXAMPLE_DOCUMENT = { ...EXAMPLE_SESSION, seq: 1, blocks: [EXAMPLE_BLOCK] };

export const EXAMPLE_JOB_ACCEPTED = { jobId: '3d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70' };

export const EXAMPLE_JOB = {
  id: EXAMPLE_JOB_ACCEPTED.jobId,
  queue: 'export',
  name: 'export.render',
  sessionKey: 'K7Q',
  state: 'completed',
  progress: 100,
  result: { artifactId: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d', format: 'markdown', sizeBytes: 38, seq: 4 },
  attempts: 1,
  maxAttempts: 3,
  createdAt: at,
  finishedAt: at,
};

export const EXAMPLE_AUTH = {
  user: { id: actor.userId, email: 'ada@example.com', displayName: 'Ada', plan: 'FREE' },
  accessToken: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI2ZjFjMmEzZSJ9.c2lnbmF0dXJl',
};
