import { z } from 'zod';

export const CreateThemeBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    tokens: z
      .record(z.string().max(64), z.union([z.string().max(500), z.number(), z.boolean()]))
      .refine((t) => Object.keys(t).length <= 200, 'at most 200 tokens'),
  })
  .strict()
  .meta({ id: 'CreateThemeBody' });
export type CreateThemeBody = z.infer<typeof CreateThemeBody>;

export const ThemeIdParam = z.uuid({ message: 'must be a UUID' });
