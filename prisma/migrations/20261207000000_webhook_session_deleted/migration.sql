-- `session.deleted` for webhooks.
--
-- Deleting a session deletes its change log, so the event cannot wait in the log as a change
-- does: it is kept in webhook_events, one row per webhook that covers the session and
-- subscribes to it, written by a trigger in the deleting transaction itself (whichever path
-- deletes the session: its owner, the deletion of its owner's account, retention). It goes
-- out after the session's last change: a lane of the session outlives it, marked with the
-- session's final seq (`final_seq`), until its holder is done with it, and the event is not
-- sent while such a lane exists.
--
-- A webhook for that one session ends with it: if it subscribes to `session.deleted` it
-- stays (its `session_id` cleared, `deleted_session_key` set) until that event is delivered
-- and is then deleted; otherwise it is deleted with the session.
ALTER TABLE "webhooks" ADD COLUMN "deleted_session_key" TEXT;
ALTER TABLE "webhooks" DROP CONSTRAINT "webhooks_session_id_fkey";
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

ALTER TABLE "webhook_lanes" ADD COLUMN "final_seq" BIGINT;
ALTER TABLE "webhook_lanes" DROP CONSTRAINT "webhook_lanes_session_id_fkey";

CREATE INDEX "webhook_events_webhook_id_session_id_idx" ON "webhook_events"("webhook_id", "session_id");

CREATE FUNCTION "webhooks_session_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  deleted_at TEXT := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
BEGIN
  -- Covering: on this session or on every session, of its owner or an operator's.
  INSERT INTO webhook_events (id, webhook_id, session_id, type, body)
  SELECT gen_random_uuid(), w.id, OLD.id, 'session.deleted',
         json_build_object('type', 'session.deleted', 'timestamp', deleted_at,
                           'data', json_build_object('sessionKey', OLD.key, 'seq', OLD.seq, 'at', deleted_at))::text
  FROM webhooks w
  WHERE (w.session_id = OLD.id OR (w.session_id IS NULL AND w.deleted_session_key IS NULL))
    AND (w.owner_id IS NULL OR w.owner_id = OLD.owner_id)
    AND w.enabled AND 'session.deleted' = ANY (w.events);

  -- A lane whose webhook waits for the event stays until its holder is done; the others go.
  UPDATE webhook_lanes l SET final_seq = OLD.seq
  WHERE l.session_id = OLD.id
    AND EXISTS (SELECT 1 FROM webhook_events e
                WHERE e.webhook_id = l.webhook_id AND e.session_id = OLD.id AND e.type = 'session.deleted');
  DELETE FROM webhook_lanes WHERE session_id = OLD.id AND final_seq IS NULL;

  UPDATE webhooks w SET deleted_session_key = OLD.key
  WHERE w.session_id = OLD.id
    AND EXISTS (SELECT 1 FROM webhook_events e
                WHERE e.webhook_id = w.id AND e.session_id = OLD.id AND e.type = 'session.deleted');
  DELETE FROM webhooks WHERE session_id = OLD.id AND deleted_session_key IS NULL;
  RETURN OLD;
END $$;

CREATE TRIGGER "sessions_webhooks_deleted" BEFORE DELETE ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION "webhooks_session_deleted"();
