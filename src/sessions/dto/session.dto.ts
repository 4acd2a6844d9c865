import { z } from 'zod';
import { PageQuery } from '../../common/pagination.js';

const jsonObject = z.record(z.string(), z.unknown());
const typeSlug = z.string().min(1).max(100);
const title = z.string().max(200, 'must be at most 200 characters');
const visibility = z.enum(['link', 'readonly', 'private']);
const themeId = z.uuid({ message: 'must be a UUID' }).nullable();

export const CreateSessionBody = z
  .object({
    typeSlug,
    title: title.optional(),
    state: jsonObject.optional(),
    visibility: visibility.optional(),
    themeId: themeId.optional(),
  })
  .strict()
  .meta({ id: 'CreateSessionBody' });
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

export const InstantiateSessionBody = z
  .object({ typeSlug, title: title.optional(), state: jsonObject.optional(), themeId: themeId.optional() })
  .strict()
  .meta({ id: 'InstantiateSessionBody' });
export type InstantiateSessionBody = z.infer<typeof InstantiateSessionBody>;

export const SaveSessionBody = z
  .object({
    version: z.number().int().min(1).max(2_147_483_647).optional(),
    title: title.optional(),
    state: jsonObject.optional(),
    metadata: jsonObject
      .refine((m) => !('created' in m) && !('lastModified' in m), 'created and lastModified are set by the server')
      .optional(),
    themeId: themeId.optional(),
    visibility: visibility.optional(),
  })
  .strict()
  .meta({ id: 'SaveSessionBody' });
export type SaveSessionBody = z.infer<typeof SaveSessionBody>;

export const ListSessionsQuery = PageQuery.extend({
  typeSlug: typeSlug.optional(),
  /** `true`: the sessions the caller is a member of, instead of those they own. */
  member: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
}).strict();
export type ListSessionsQuery = z.infer<typeof ListSessionsQuery>;
