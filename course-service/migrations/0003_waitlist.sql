-- Waitlists: students waiting for a seat of a sold-out course, first come first served, and the
-- offers (holds of their own) freed seats become. offer_freed_seats() hands free seats to the
-- first waiting students; the service calls it in every transaction that frees a seat, so no
-- other buyer can take one in between (a buyer's hold also leaves one free seat per waiting
-- student untouched).

ALTER TABLE courses ADD COLUMN waitlist_length integer NOT NULL DEFAULT 0
    CHECK (waitlist_length >= 0);

-- An offer is a hold like any other; the flag tells it on the feed as `reservation.offered`.
ALTER TABLE reservations ADD COLUMN offered boolean NOT NULL DEFAULT false;

CREATE TABLE waitlist_entries (
    id             uuid        PRIMARY KEY,
    course_id      uuid        NOT NULL REFERENCES courses (id),
    student_id     text        NOT NULL,
    status         text        NOT NULL
        CHECK (status IN ('waiting', 'offered', 'enrolled', 'left', 'lapsed')),
    reservation_id uuid,
    -- Join order: a sequence is enough here, since entries of one course are written under its
    -- row lock.
    joined         bigserial   NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT offers_have_holds CHECK (status <> 'offered' OR reservation_id IS NOT NULL)
);

CREATE UNIQUE INDEX one_open_entry_per_student
    ON waitlist_entries (course_id, student_id) WHERE status IN ('waiting', 'offered');
CREATE INDEX waiting_in_order ON waitlist_entries (course_id, joined) WHERE status = 'waiting';
CREATE INDEX entries_of_student ON waitlist_entries (student_id, created_at);
CREATE INDEX entries_by_offer ON waitlist_entries (course_id, reservation_id)
    WHERE reservation_id IS NOT NULL;

-- Hands free seats of `course` to its first waiting students as holds until `at + lifetime`;
-- returns how many. A student found holding or owning a seat of the course leaves instead.
-- The caller has changed the course row in this transaction, so the row is locked.
CREATE FUNCTION offer_freed_seats(course uuid, at timestamptz, lifetime interval)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    free    integer;
    offered integer := 0;
    e       record;
    hold    uuid;
BEGIN
    SELECT seats_total - seats_held - seats_sold INTO free
    FROM courses WHERE id = course AND waitlist_length > 0 FOR UPDATE;
    IF free IS NULL OR free <= 0 THEN
        RETURN 0;
    END IF;
    FOR e IN
        SELECT w.id, w.student_id FROM waitlist_entries w
        WHERE w.course_id = course AND w.status = 'waiting'
        ORDER BY w.joined FOR UPDATE
    LOOP
        EXIT WHEN free <= 0;
        IF EXISTS (SELECT 1 FROM reservations r WHERE r.course_id = course
                   AND r.student_id = e.student_id AND r.status IN ('held', 'confirmed')) THEN
            UPDATE waitlist_entries SET status = 'left', updated_at = at WHERE id = e.id;
            UPDATE courses SET waitlist_length = waitlist_length - 1 WHERE id = course;
            CONTINUE;
        END IF;
        hold := gen_random_uuid();
        INSERT INTO reservations (course_id, id, student_id, unit_price_cents, currency,
                                  expected_price_cents, status, expires_at, created_at,
                                  updated_at, offered)
        SELECT c.id, hold, e.student_id, c.price_cents, c.currency, NULL, 'held',
               at + lifetime, at, at, true
        FROM courses c WHERE c.id = course;
        -- Counted against the student's hold limit like any hold (even past it: the student
        -- asked for this seat by waiting).
        INSERT INTO student_holds (student_id, holds) VALUES (e.student_id, 1)
        ON CONFLICT (student_id) DO UPDATE SET holds = student_holds.holds + 1;
        UPDATE waitlist_entries SET status = 'offered', reservation_id = hold, updated_at = at
        WHERE id = e.id;
        UPDATE courses SET seats_held = seats_held + 1, waitlist_length = waitlist_length - 1
        WHERE id = course;
        free := free - 1;
        offered := offered + 1;
    END LOOP;
    RETURN offered;
END $$;

-- An offer's hold ending ends its entry: enrolled when confirmed, lapsed otherwise.
CREATE FUNCTION end_offer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE waitlist_entries
    SET status = CASE NEW.status WHEN 'confirmed' THEN 'enrolled' ELSE 'lapsed' END,
        updated_at = NEW.updated_at
    WHERE course_id = NEW.course_id AND reservation_id = NEW.id AND status = 'offered';
    RETURN NULL;
END $$;

CREATE TRIGGER offers_end
    AFTER UPDATE OF status ON reservations
    FOR EACH ROW WHEN (OLD.offered AND OLD.status = 'held' AND NEW.status <> 'held')
    EXECUTE FUNCTION end_offer();

-- The feed tells offers as `reservation.offered` and carries the waitlist's length; joining or
-- leaving a waitlist (the length alone moves) is a course update.
CREATE OR REPLACE FUNCTION tell_reservation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.student_id IS NULL THEN
        RETURN NULL; -- a tombstone is not a seat change
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = NEW.status THEN
        RETURN NULL;
    END IF;
    INSERT INTO events (type, course_id, reservation_id, student_id, at,
                        seats_total, seats_held, seats_sold, waitlist_length)
    SELECT CASE WHEN TG_OP = 'INSERT' AND NEW.offered THEN 'reservation.offered'
                ELSE 'reservation.' || NEW.status END,
           NEW.course_id, NEW.id, NEW.student_id, NEW.updated_at,
           c.seats_total, c.seats_held, c.seats_sold, c.waitlist_length
    FROM courses c WHERE c.id = NEW.course_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tell_course() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.updated_at IS NOT DISTINCT FROM NEW.updated_at THEN
        RETURN NULL; -- only the counters moved: the reservation's or the entry's event tells it
    END IF;
    INSERT INTO events (type, course_id, at, seats_total, seats_held, seats_sold, waitlist_length)
    SELECT CASE TG_OP WHEN 'INSERT' THEN 'course.created' ELSE 'course.updated' END,
           NEW.id, NEW.updated_at, c.seats_total, c.seats_held, c.seats_sold, c.waitlist_length
    FROM courses c WHERE c.id = NEW.id;
    RETURN NULL;
END $$;

-- A student joining or leaving the queue changes the course's waitlist length: a course update.
-- (An entry offered a seat is told by the offer's hold.)
CREATE FUNCTION tell_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (TG_OP = 'INSERT' OR (OLD.status = 'waiting' AND NEW.status NOT IN ('waiting', 'offered'))) THEN
        RETURN NULL;
    END IF;
    INSERT INTO events (type, course_id, at, seats_total, seats_held, seats_sold, waitlist_length)
    SELECT 'course.updated', NEW.course_id, NEW.updated_at,
           c.seats_total, c.seats_held, c.seats_sold, c.waitlist_length
    FROM courses c WHERE c.id = NEW.course_id;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER entries_tell
    AFTER INSERT OR UPDATE OF status ON waitlist_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tell_entry();
