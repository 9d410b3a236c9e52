-- The follower of course-service's event feed: one row holding the cursor of the last event whose
-- orders are recorded (NULL: none yet, read from the oldest event kept), and the lease of the
-- replica that follows the feed (`holder` until `lease_until`), so that of several replicas on
-- this database one follows at a time, and another takes over once the lease lapses. The cursor
-- is only stored by the replica holding an unexpired lease.
--
-- The orders of waitlist offers need no column of their own: such an order's id is the offer's
-- reservation id, and recording it again meets the primary key.

CREATE TABLE feed_follower (
    singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    cursor      text,
    holder      text,
    lease_until timestamptz
);

INSERT INTO feed_follower (singleton) VALUES (true);
