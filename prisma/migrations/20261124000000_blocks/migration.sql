-- Blocks with optimistic versions, their revisions, the per-session change log and snapshots.

-- Counted in the same statement as every create and delete, so the per-session cap is exact.
ALTER TABLE "sessions" ADD COLUMN "block_count" INTEGER NOT NULL DEFAULT 0;

CREATE TABLE "blocks" (
    "id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "type" VARCHAR(40) NOT NULL,
    "content" JSONB NOT NULL,
    -- Fractional index: compared byte by byte, like the keys are generated.
    "position" TEXT COLLATE "C" NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_by" JSONB NOT NULL,

    CONSTRAINT "blocks_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "blocks_content_object" CHECK (jsonb_typeof("content") = 'object')
);
-- Deferrable so a restore can move blocks through each other's positions within one transaction.
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_session_id_position_key"
    UNIQUE ("session_id", "position") DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_session_id_fkey"
    FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Every revision of a block, the current one included (the base a stale write merges against).
CREATE TABLE "block_revisions" (
    "block_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "type" VARCHAR(40) NOT NULL,
    "content" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_by" JSONB NOT NULL,

    CONSTRAINT "block_revisions_pkey" PRIMARY KEY ("block_id", "version")
);
ALTER TABLE "block_revisions" ADD CONSTRAINT "block_revisions_block_id_fkey"
    FOREIGN KEY ("block_id") REFERENCES "blocks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- One row per seq of a session, gap-free; pruned from the oldest end only.
CREATE TABLE "changes" (
    "session_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "kind" VARCHAR(20) NOT NULL,
    "payload" JSONB NOT NULL,
    "actor" JSONB NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "changes_pkey" PRIMARY KEY ("session_id", "seq")
);
ALTER TABLE "changes" ADD CONSTRAINT "changes_session_id_fkey"
    FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "snapshots" (
    "id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "seq" BIGINT NOT NULL,
    "label" VARCHAR(200),
    "automatic" BOOLEAN NOT NULL DEFAULT false,
    "title" VARCHAR(200) NOT NULL,
    "state" JSONB NOT NULL,
    "blocks" JSONB NOT NULL,
    "created_by" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "snapshots_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "snapshots_session_id_created_at_id_idx" ON "snapshots"("session_id", "created_at" DESC, "id" DESC);
CREATE INDEX "snapshots_created_at_idx" ON "snapshots"("created_at");
ALTER TABLE "snapshots" ADD CONSTRAINT "snapshots_session_id_fkey"
    FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
