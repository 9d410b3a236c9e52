-- The event feed: every change to courses and reservations, written in the transaction that
-- makes it (by triggers, so no statement can change seats without telling it).
--
-- Order: a sequence cannot give commit order (a transaction may draw a lower number and commit
-- after a higher one, and a reader that had passed the higher one would never see it). So events
-- are written without a position, and sequence_events() gives positions afterwards, only to events
-- whose transactions have committed (the only ones it can see), one caller at a time under an
-- advisory lock. Positions become visible in the order they were given, so a reader that passes
-- the last position it read never skips or repeats an event, whichever replica wrote it.

CREATE TABLE events (
    id              bigserial   PRIMARY KEY,
    position        bigint      UNIQUE,
    type            text        NOT NULL,
    course_id       uuid        NOT NULL,
    reservation_id  uuid,
    student_id      text,
    at              timestamptz NOT NULL,
    seats_total     integer     NOT NULL,
    seats_held      integer     NOT NULL,
    seats_sold      integer     NOT NULL,
    waitlist_length integer     NOT NULL DEFAULT 0
);

CREATE INDEX events_to_position ON events (id) WHERE position IS NULL;

-- The last position given, and the last position forgotten (trimmed past the retention).
CREATE TABLE feed_positions (
    one             boolean PRIMARY KEY DEFAULT true CHECK (one),
    head            bigint  NOT NULL,
    trimmed_through bigint  NOT NULL
);
INSERT INTO feed_positions (one, head, trimmed_through) VALUES (true, 0, 0);

-- Counts are read when the transaction commits (the triggers are deferred), so every event shows
-- the course as its transaction left it.
CREATE FUNCTION tell_reservation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.student_id IS NULL THEN
        RETURN NULL; -- a tombstone is not a seat change
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status THEN
        RETURN NULL;
    END IF;
    INSERT INTO events (type, course_id, reservation_id, student_id, at,
                        seats_total, seats_held, seats_sold)
    SELECT 'reservation.' || NEW.status, NEW.course_id, NEW.id, NEW.student_id, NEW.updated_at,
           c.seats_total, c.seats_held, c.seats_sold
    FROM courses c WHERE c.id = NEW.course_id;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER reservations_tell
    AFTER INSERT OR UPDATE OF status ON reservations
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tell_reservation();

CREATE FUNCTION tell_course() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at THEN
        RETURN NULL; -- only the counters moved: the reservation's event tells it
    END IF;
    INSERT INTO events (type, course_id, at, seats_total, seats_held, seats_sold)
    SELECT CASE TG_OP WHEN 'INSERT' THEN 'course.created' ELSE 'course.updated' END,
           NEW.id, NEW.updated_at, c.seats_total, c.seats_held, c.seats_sold
    FROM courses c WHERE c.id = NEW.id;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER courses_tell
    AFTER INSERT OR UPDATE ON courses
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tell_course();

-- Gives positions to committed events without one, in the order they were written; returns how
-- many. Another caller already at it: returns 0 at once (its positions will do).
CREATE FUNCTION sequence_events(batch integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    base bigint;
    n    bigint;
BEGIN
    -- Nothing to do is the common case for a waiting reader: answer it with a read alone (no
    -- lock, no write, no commit to flush).
    IF NOT EXISTS (SELECT 1 FROM events WHERE position IS NULL) THEN
        RETURN 0;
    END IF;
    IF NOT pg_try_advisory_xact_lock(7461023958101) THEN
        RETURN 0;
    END IF;
    SELECT head INTO base FROM feed_positions FOR UPDATE;
    WITH todo AS (
        SELECT id, row_number() OVER (ORDER BY id) AS rn
        FROM events WHERE position IS NULL ORDER BY id LIMIT batch
    )
    UPDATE events e SET position = base + todo.rn FROM todo WHERE e.id = todo.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        UPDATE feed_positions SET head = base + n;
    END IF;
    RETURN n;
END $$;
