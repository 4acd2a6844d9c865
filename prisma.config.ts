import { defineConfig } from 'prisma/config';

// Only `prisma generate` and Prisma's own migrate commands read this file; the app
// connects through the pg driver adapter with the URL from its validated config.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/tessera' },
});
