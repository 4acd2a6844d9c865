-- The cleanup job deletes ownerless sessions nobody modified for SESSION_RETENTION_DAYS:
-- it finds them oldest first without scanning every session.
CREATE INDEX "sessions_ownerless_updated_at_idx" ON "sessions" ("updated_at") WHERE "owner_id" IS NULL;
