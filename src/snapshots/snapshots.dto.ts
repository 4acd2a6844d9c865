import { z } from 'zod';

export const CreateSnapshotBody = z
  .object({ label: z.string().max(200, 'must be at most 200 characters').optional() })
  .strict()
  .optional()
  .meta({ id: 'CreateSnapshotBody' });
export type CreateSnapshotBody = z.infer<typeof CreateSnapshotBody>;

export const ListSnapshotsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z.string().max(512).optional(),
  })
  .strict();
export type ListSnapshotsQuery = z.infer<typeof ListSnapshotsQuery>;

export const SnapshotIdParam = z.uuid({ message: 'must be a UUID' });
