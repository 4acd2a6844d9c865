import { z } from 'zod';

export const CreateSnapshotBody = z
  .object({ label: z.string().max(200, 'must be at most 200 characters').optional() })
  .strict()
  .optional()
  .meta({ id: 'CreateSnapshotBody' });
export type CreateSnapshotBody = z.infer<typeof CreateSnapshotBody>;

export const SnapshotIdParam = z.uuid({ message: 'must be a UUID' });
