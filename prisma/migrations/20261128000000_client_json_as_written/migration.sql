-- What a client saves comes back exactly, key order included: session state and metadata,
-- block content (and its revisions), the change log's payloads and snapshots are stored as
-- `json`, which keeps the text as written, instead of `jsonb`, which keeps a parsed value and
-- prints its object keys sorted (shorter keys first), so a checklist saved as
-- {"task-b": .., "task-a": ..} read back as {"task-a": .., "task-b": ..}.
--
-- Why `json`: the read path already sends the JSON text PostgreSQL writes (json_build_object,
-- json_agg), and a `json` value goes into it verbatim, so the text a client sent is the text
-- every read sends back, with nothing rebuilt in between (jsonb with a key-order list beside
-- it would need every read to rebuild the text). Writing `json` only validates the text where
-- jsonb parses and re-encodes it, so writes get cheaper, not slower. What `json` lacks is done
-- without it: a restore's "unchanged?" compares the text (key order is now part of what is
-- kept), and the metadata merge that was jsonb's `||` is built from json_each, existing keys
-- in their place and new ones after them in the order sent. An operation that needs jsonb's
-- semantics (containment, path queries, an index) casts to jsonb in its own statement.
--
-- The actor columns (updated_by, actor, created_by) stay jsonb: the server builds them, always
-- {userId, displayName}, and no client chooses their keys. Theme tokens stay jsonb too: they
-- are operators' settings, read whole by id, never a client's document.
--
-- Existing rows become the text jsonb prints for them (keys in jsonb's order), which is also
-- the text their stored sizes were measured on: sessions.stored_bytes and changes.bytes stay
-- exact. New writes are measured on the text as written. Each ALTER rewrites its table under
-- an exclusive lock: a large deployment runs this in a quiet window.

ALTER TABLE "sessions"
    ALTER COLUMN "metadata" DROP DEFAULT,
    ALTER COLUMN "state" DROP DEFAULT;
ALTER TABLE "sessions"
    ALTER COLUMN "metadata" TYPE JSON USING "metadata"::json,
    ALTER COLUMN "state" TYPE JSON USING "state"::json;
ALTER TABLE "sessions"
    ALTER COLUMN "metadata" SET DEFAULT '{}',
    ALTER COLUMN "state" SET DEFAULT '{}';

ALTER TABLE "blocks" DROP CONSTRAINT "blocks_content_object";
ALTER TABLE "blocks" ALTER COLUMN "content" TYPE JSON USING "content"::json;
ALTER TABLE "blocks" ADD CONSTRAINT "blocks_content_object" CHECK (json_typeof("content") = 'object');

ALTER TABLE "block_revisions" ALTER COLUMN "content" TYPE JSON USING "content"::json;

ALTER TABLE "changes" ALTER COLUMN "payload" TYPE JSON USING "payload"::json;

ALTER TABLE "snapshots"
    ALTER COLUMN "state" TYPE JSON USING "state"::json,
    ALTER COLUMN "blocks" TYPE JSON USING "blocks"::json;
