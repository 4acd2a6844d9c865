-- A webhook is disabled when all its deliveries failed for WEBHOOK_DISABLE_AFTER_MS, not when
-- one of its lanes did: it remembers when it last delivered anything (to the second), and a
-- failing lane disables it only if that is longer ago than the window.
ALTER TABLE "webhooks" ADD COLUMN "last_delivered_at" TIMESTAMPTZ(3);
