-- A change opens its webhook lanes in its own transaction.
--
-- Until now every committed change ran an INSERT ... SELECT on webhook_lanes after its
-- commit and before its acknowledgement, a round trip paid even when no webhook existed,
-- and a lane that a process died before opening started after the change it missed. The
-- trigger below opens (or finds) the lanes of the webhooks that cover the session as part of
-- the INSERT of the change itself: with no covering webhook it is an index probe that finds
-- nothing, and a lane is committed with the first change it must deliver, whatever happens
-- to the process after the commit (the sweep finds a lane whose kick was lost).
CREATE FUNCTION "webhooks_change_lanes"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_lanes (webhook_id, session_id, delivered_seq)
  SELECT w.id, NEW.session_id, NEW.seq - 1
  FROM webhooks w
  WHERE w.enabled AND 'change' = ANY (w.events) AND w.deleted_session_key IS NULL
    AND (w.session_id = NEW.session_id
         OR (w.session_id IS NULL
             AND (w.owner_id IS NULL OR w.owner_id = (SELECT s.owner_id FROM sessions s WHERE s.id = NEW.session_id))))
  ON CONFLICT (webhook_id, session_id) DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER "changes_webhook_lanes" AFTER INSERT ON "changes"
  FOR EACH ROW EXECUTE FUNCTION "webhooks_change_lanes"();
