-- CreateEnum
CREATE TYPE "Plan" AS ENUM ('FREE', 'PRO', 'ENTERPRISE');

-- CreateEnum
CREATE TYPE "Visibility" AS ENUM ('link', 'readonly', 'private');

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "email" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "display_name" VARCHAR(100) NOT NULL,
    "plan" "Plan" NOT NULL DEFAULT 'FREE',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "session_types" (
    "slug" VARCHAR(40) NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "built_in" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "session_types_pkey" PRIMARY KEY ("slug")
);

-- CreateTable
CREATE TABLE "themes" (
    "id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "tokens" JSONB NOT NULL,
    "built_in" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "themes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "key" VARCHAR(12) NOT NULL,
    "key_length" SMALLINT NOT NULL,
    "type_slug" VARCHAR(40) NOT NULL,
    "title" VARCHAR(200) NOT NULL DEFAULT '',
    "theme_id" UUID,
    "owner_id" UUID,
    "visibility" "Visibility" NOT NULL DEFAULT 'link',
    "version" INTEGER NOT NULL DEFAULT 1,
    "seq" BIGINT NOT NULL DEFAULT 0,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "state" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "scope" VARCHAR(80) NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "request_hash" CHAR(64) NOT NULL,
    "session_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "themes_name_key" ON "themes"("name");

-- CreateIndex
CREATE UNIQUE INDEX "sessions_key_key" ON "sessions"("key");

-- CreateIndex
CREATE INDEX "sessions_owner_id_created_at_id_idx" ON "sessions"("owner_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sessions_owner_id_type_slug_created_at_id_idx" ON "sessions"("owner_id", "type_slug", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sessions_created_at_id_idx" ON "sessions"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sessions_type_slug_created_at_id_idx" ON "sessions"("type_slug", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "sessions_key_length_idx" ON "sessions"("key_length");

-- CreateIndex
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_type_slug_fkey" FOREIGN KEY ("type_slug") REFERENCES "session_types"("slug") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_theme_id_fkey" FOREIGN KEY ("theme_id") REFERENCES "themes"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Beyond what Prisma models: the key format and its length column must agree, and the
-- built-in session types and themes exist from the first migration on.
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_key_format_check" CHECK ("key" ~ '^[A-Z0-9]{3,12}$' AND "key_length" = length("key"));

INSERT INTO "session_types" ("slug", "name", "built_in") VALUES
    ('presentation', 'Presentation', true),
    ('document', 'Document', true),
    ('checklist', 'Checklist', true);

INSERT INTO "themes" ("id", "name", "tokens", "built_in") VALUES
    ('00000000-0000-4000-8000-000000000001', 'Paper', '{"background":"#ffffff","foreground":"#1f2328","accent":"#0969da","font":"system-ui"}', true),
    ('00000000-0000-4000-8000-000000000002', 'Slate', '{"background":"#0d1117","foreground":"#e6edf3","accent":"#2f81f7","font":"system-ui"}', true),
    ('00000000-0000-4000-8000-000000000003', 'Sunrise', '{"background":"#fff8f0","foreground":"#3d2c1e","accent":"#d9480f","font":"Georgia, serif"}', true);
