-- The recorded answer of a write sent with an Idempotency-Key (HTTP) or idempotencyKey
-- (socket), per caller and key: a retry within 24 h gets this answer and writes nothing.
-- A write's record is inserted in the write's own transaction; the primary key is what
-- makes a second run of the same key fail and roll back, on any instance.
CREATE TABLE "idempotency_records" (
    "scope" VARCHAR(80) NOT NULL,
    "key" VARCHAR(255) NOT NULL,
    "fingerprint" CHAR(64) NOT NULL,
    "status" INTEGER NOT NULL,
    "etag" VARCHAR(40),
    "body" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "idempotency_records_pkey" PRIMARY KEY ("scope","key")
);

-- The sweep deletes records past 24 h, oldest first.
CREATE INDEX "idempotency_records_created_at_idx" ON "idempotency_records"("created_at");
