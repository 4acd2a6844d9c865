-- Size budgets: a session's stored size, kept in the same statement as every write that
-- changes it, so SESSION_MAX_BYTES is checked exactly. The measure, everywhere: the bytes
-- of the title plus the bytes of the JSON text (jsonb::text) of the state, the metadata
-- and each block's content.
ALTER TABLE "sessions" ADD COLUMN "stored_bytes" BIGINT NOT NULL DEFAULT 0;

UPDATE "sessions" s SET "stored_bytes" =
    octet_length(s."title") + octet_length(s."state"::text) + octet_length(s."metadata"::text)
    + COALESCE((SELECT sum(octet_length(b."content"::text)) FROM "blocks" b WHERE b."session_id" = s."id"), 0);

-- The bytes of each change's payload, so a page of the change log is cut to
-- CHANGES_MAX_PAGE_BYTES without reading the payloads it leaves out.
ALTER TABLE "changes" ADD COLUMN "bytes" INTEGER NOT NULL DEFAULT 0;

UPDATE "changes" SET "bytes" = octet_length("payload"::text);
