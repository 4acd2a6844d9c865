-- Webhooks: subscriptions, one delivery lane per webhook and session, and the delivery log.
--
-- A `change` is never copied into an outbox: the change log is committed in the statement
-- that makes the change, so each lane keeps only how far it has delivered (`delivered_seq`)
-- and reads the log after it. Whoever holds a lane's lease (`leased_until`) delivers its
-- changes one at a time, in seq order; `next_attempt_at` holds a failing lane back until its
-- retry is due, and `failing_since` tells when to give the webhook up.
CREATE TABLE "webhooks" (
    "id" UUID NOT NULL,
    "owner_id" UUID,
    "session_id" UUID,
    "url" TEXT NOT NULL,
    "events" TEXT[] NOT NULL,
    "secret" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "disabled_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhooks_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhooks_owner_id_created_at_id_idx" ON "webhooks"("owner_id", "created_at" DESC, "id" DESC);
CREATE INDEX "webhooks_session_id_idx" ON "webhooks"("session_id");
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_owner_id_fkey" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "webhooks" ADD CONSTRAINT "webhooks_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "webhook_lanes" (
    "webhook_id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "delivered_seq" BIGINT NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "failing_since" TIMESTAMPTZ(3),
    "next_attempt_at" TIMESTAMPTZ(3),
    "leased_until" TIMESTAMPTZ(3),
    CONSTRAINT "webhook_lanes_pkey" PRIMARY KEY ("webhook_id", "session_id")
);
CREATE INDEX "webhook_lanes_session_id_idx" ON "webhook_lanes"("session_id");
ALTER TABLE "webhook_lanes" ADD CONSTRAINT "webhook_lanes_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "webhook_lanes" ADD CONSTRAINT "webhook_lanes_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "webhook_deliveries" (
    "id" UUID NOT NULL,
    "webhook_id" UUID NOT NULL,
    "event_id" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "session_id" UUID,
    "seq" BIGINT,
    "attempt" INTEGER NOT NULL,
    "status" VARCHAR(10) NOT NULL,
    "response_status" INTEGER,
    "error" TEXT,
    "response_excerpt" TEXT,
    "duration_ms" INTEGER NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "webhook_deliveries_status_check" CHECK ("status" IN ('delivered', 'failed'))
);
CREATE INDEX "webhook_deliveries_webhook_id_at_id_idx" ON "webhook_deliveries"("webhook_id", "at" DESC, "id" DESC);
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Events other than changes (a session's job completed or failed) have no log of their own:
-- each is kept here, one row per webhook, from the moment it happens until it is delivered
-- (or its webhook deleted), and retried on the same terms as a lane.
CREATE TABLE "webhook_events" (
    "id" UUID NOT NULL,
    "webhook_id" UUID NOT NULL,
    "session_id" UUID NOT NULL,
    "type" VARCHAR(40) NOT NULL,
    "body" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "failing_since" TIMESTAMPTZ(3),
    "next_attempt_at" TIMESTAMPTZ(3),
    "leased_until" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhook_events_pending_idx" ON "webhook_events"("created_at") WHERE "delivered_at" IS NULL;
ALTER TABLE "webhook_events" ADD CONSTRAINT "webhook_events_webhook_id_fkey" FOREIGN KEY ("webhook_id") REFERENCES "webhooks"("id") ON DELETE CASCADE ON UPDATE CASCADE;
