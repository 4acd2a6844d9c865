-- Members, roles and invitations.
--
-- `sessions.member_roles` ({"<userId>": "editor" | "viewer"}) is what every access decision
-- reads: it sits on the session row that each write locks, so a write that waited for a
-- member change's lock sees that change. `session_members` holds the same members with
-- when and by whom they were added, for listing; every member change keeps both in one
-- transaction under the session's row lock.
ALTER TABLE "sessions" ADD COLUMN "member_roles" JSONB NOT NULL DEFAULT '{}';

CREATE TABLE "session_members" (
    "session_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "role" VARCHAR(10) NOT NULL,
    "added_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "added_by" UUID,
    CONSTRAINT "session_members_pkey" PRIMARY KEY ("session_id", "user_id"),
    CONSTRAINT "session_members_role_check" CHECK ("role" IN ('editor', 'viewer'))
);
CREATE INDEX "session_members_session_id_added_at_user_id_idx" ON "session_members"("session_id", "added_at", "user_id");
CREATE INDEX "session_members_user_id_idx" ON "session_members"("user_id");
ALTER TABLE "session_members" ADD CONSTRAINT "session_members_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "session_members" ADD CONSTRAINT "session_members_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Invitations: only the token's sha-256 is kept; the token itself is shown once, to its creator.
CREATE TABLE "session_invites" (
    "id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "token_hash" CHAR(64) NOT NULL,
    "role" VARCHAR(10) NOT NULL,
    "max_uses" INTEGER,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "created_by" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "session_invites_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "session_invites_role_check" CHECK ("role" IN ('editor', 'viewer'))
);
CREATE UNIQUE INDEX "session_invites_token_hash_key" ON "session_invites"("token_hash");
CREATE INDEX "session_invites_session_id_created_at_id_idx" ON "session_invites"("session_id", "created_at" DESC, "id" DESC);
ALTER TABLE "session_invites" ADD CONSTRAINT "session_invites_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
