-- Time travel and undo.
--
-- A change row says what it replaced, so the session can be walked back from now to any seq
-- the log still holds, and a change can be undone without its predecessor in the log:
-- `prior` holds the values the change overwrote (a block update: its type, content and
-- revision stamp; a move: its position and stamp; a session save: the title, metadata,
-- visibility, theme and, when it changed, the state). Creates and deletes need none: a
-- delete's payload is the block as it was.
-- `step` is shared by every change one request or transaction wrote (a batch, a restore, an
-- undo), so they are undone as one. `undo_of` is the seq of the change an undo or redo inverts.
ALTER TABLE "changes" ADD COLUMN "prior" JSON;
ALTER TABLE "changes" ADD COLUMN "step" UUID;
ALTER TABLE "changes" ADD COLUMN "undo_of" BIGINT;
