-- Each order records the step its saga is at, so that whoever picks it up (the reconciler of any
-- replica, after a crash or a lapsed lease) goes on from there, and the price the student expected,
-- which the hold step sends. Orders recorded before steps were kept get the step the rule book
-- derives (`rules::legacy_step`): a pending order may have got anywhere, so it finds out; a
-- cancellation asked for and not finished goes on. `cancel_requested` stays, kept equal to
-- `step = 'cancelling'`, for the partial index of orders with work left.

ALTER TABLE orders ADD COLUMN expected_price_cents bigint;
ALTER TABLE orders ADD COLUMN step text;

UPDATE orders SET step = CASE
    WHEN status = 'cancelled' THEN 'cancelled'
    WHEN cancel_requested AND status IN ('pending', 'confirmed') THEN 'cancelling'
    WHEN status = 'pending' THEN 'finding_out'
    ELSE 'settled'
END;

ALTER TABLE orders ALTER COLUMN step SET NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_step_known
    CHECK (step IN ('recorded', 'finding_out', 'confirming', 'settled', 'cancelling', 'cancelled'));
