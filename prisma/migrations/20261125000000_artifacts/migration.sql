-- Artifacts (the files jobs produce) and the index the change-log sweep uses.
-- Artifact bytes live gzip-compressed in the artifact store; these rows say what they are
-- and whose session they belong to.

CREATE TABLE "artifacts" (
    "id" UUID NOT NULL,
    -- Kept when the session goes (SET NULL) so cleanup can find and delete the stored file.
    "session_id" UUID,
    "session_key" VARCHAR(12) NOT NULL,
    "kind" VARCHAR(20) NOT NULL,
    "content_type" VARCHAR(100) NOT NULL,
    "file_name" VARCHAR(200) NOT NULL,
    "size_bytes" BIGINT NOT NULL,
    "stored_bytes" BIGINT NOT NULL,
    "sha256" CHAR(64) NOT NULL,
    "storage_key" TEXT NOT NULL,
    "job_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "artifacts_pkey" PRIMARY KEY ("id")
);
ALTER TABLE "artifacts" ADD CONSTRAINT "artifacts_session_id_fkey"
    FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE SET NULL ON UPDATE CASCADE;
CREATE INDEX "artifacts_created_at_idx" ON "artifacts"("created_at");
CREATE INDEX "artifacts_session_id_idx" ON "artifacts"("session_id");

-- The hourly sweep deletes changes past CHANGES_MAX_AGE_HOURS across all sessions. The log is
-- appended in time order, so a BRIN index finds them for almost no cost on each write.
CREATE INDEX "changes_at_idx" ON "changes" USING BRIN ("at");
