-- Orders and the idempotency keys of the requests that placed them. A student has at most one
-- live (pending or confirmed) order per course; `lease_until` says who works on an order's
-- remaining work, so that a replica that stops leaves work another one takes over.

CREATE TABLE orders (
    id               uuid        PRIMARY KEY,
    student_id       text        NOT NULL,
    course_id        uuid        NOT NULL,
    reservation_id   uuid        NOT NULL UNIQUE,
    unit_price_cents bigint,
    currency         text,
    status           text        NOT NULL
        CHECK (status IN ('pending', 'confirmed', 'failed', 'cancelled')),
    failure_code     text,
    cancel_requested boolean     NOT NULL DEFAULT false,
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE UNIQUE INDEX one_live_order_per_student_and_course
    ON orders (student_id, course_id) WHERE status IN ('pending', 'confirmed');
CREATE INDEX orders_by_student ON orders (student_id, id);
CREATE INDEX orders_with_work ON orders (id)
    WHERE status = 'pending' OR (cancel_requested AND status = 'confirmed');

CREATE TABLE idempotency_keys (
    student_id   text        NOT NULL,
    key          text        NOT NULL,
    body         jsonb       NOT NULL,
    reply        jsonb,
    started_at   timestamptz NOT NULL,
    completed_at timestamptz,
    PRIMARY KEY (student_id, key)
);
