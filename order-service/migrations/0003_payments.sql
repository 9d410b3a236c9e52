-- Payments: an order may wait for its payment (`awaiting_payment`) and end `refunded`; it keeps
-- its checkout (one jsonb value: session id, url, status, end, payment and refund ids) and when
-- its hold ends. The payment steps join the known steps. Work left is now "not at a final step",
-- and an order waiting for a payment is live. `payment_events` holds the ids of the provider's
-- events applied, so each is applied once.

ALTER TABLE orders ADD COLUMN payment jsonb;
ALTER TABLE orders ADD COLUMN hold_expires_at timestamptz;

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_known
    CHECK (status IN ('pending', 'awaiting_payment', 'confirmed', 'failed', 'cancelled', 'refunded'));

ALTER TABLE orders DROP CONSTRAINT orders_step_known;
ALTER TABLE orders ADD CONSTRAINT orders_step_known
    CHECK (step IN ('recorded', 'finding_out', 'confirming', 'settled', 'cancelling', 'cancelled',
                    'checkout', 'awaiting_payment', 'expiring', 'abandoning', 'reholding',
                    'refunding'));

DROP INDEX one_live_order_per_student_and_course;
CREATE UNIQUE INDEX one_live_order_per_student_and_course
    ON orders (student_id, course_id) WHERE status IN ('pending', 'awaiting_payment', 'confirmed');

DROP INDEX orders_with_work;
CREATE INDEX orders_with_work ON orders (id) WHERE step NOT IN ('settled', 'cancelled');

CREATE TABLE payment_events (
    event_id   text        PRIMARY KEY,
    applied_at timestamptz NOT NULL
);
