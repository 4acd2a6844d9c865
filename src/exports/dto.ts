import { z } from 'zod';

export const ExportBody = z
  .object({ format: z.enum(['json', 'markdown', 'html'], { message: 'must be json, markdown or html' }) })
  .strict()
  .meta({ id: 'ExportBody' });
export type ExportBody = z.infer<typeof ExportBody>;
