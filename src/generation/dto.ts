import { z } from 'zod';

const prompt = z.string().trim().min(1, 'must not be empty').max(4000);

export const GenerateBody = z
  .object({ prompt, mode: z.enum(['blocks', 'outline'], { message: 'must be blocks or outline' }).default('blocks') })
  .strict()
  .meta({ id: 'GenerateBody' });
export type GenerateBody = z.infer<typeof GenerateBody>;

export const ThinkBody = z.object({ goal: prompt }).strict().meta({ id: 'ThinkBody' });
export type ThinkBody = z.infer<typeof ThinkBody>;

export const ImageBody = z.object({ prompt }).strict().meta({ id: 'ImageBody' });
export type ImageBody = z.infer<typeof ImageBody>;
