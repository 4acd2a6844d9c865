import { z } from 'zod';

const email = z.email().max(254);
const password = z.string().min(8, 'must be at least 8 characters').max(256);

export const RegisterBody = z
  .object({
    email,
    password,
    displayName: z.string().trim().min(1).max(100).optional(),
  })
  .strict()
  .meta({ id: 'RegisterBody' });
export type RegisterBody = z.infer<typeof RegisterBody>;

export const LoginBody = z
  .object({ email, password: z.string().min(1).max(256) })
  .strict()
  .meta({ id: 'LoginBody' });
export type LoginBody = z.infer<typeof LoginBody>;

export const ChangePlanBody = z
  .object({ plan: z.enum(['FREE', 'PRO', 'ENTERPRISE']) })
  .strict()
  .meta({ id: 'ChangePlanBody' });
export type ChangePlanBody = z.infer<typeof ChangePlanBody>;
