-- Courses, their seats and the reservations on them. The seat rules hold in the database itself:
-- counters never go negative or past the capacity, a student has at most one live reservation
-- per course, and a reservation id is used once per course.

CREATE TABLE courses (
    id            uuid        PRIMARY KEY,
    title         text        NOT NULL,
    description   text,
    instructor_id text        NOT NULL,
    currency      text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    price_cents   bigint      NOT NULL CHECK (price_cents BETWEEN 0 AND 1000000000),
    seats_total   integer     NOT NULL CHECK (seats_total BETWEEN 1 AND 1000000),
    seats_held    integer     NOT NULL DEFAULT 0 CHECK (seats_held >= 0),
    seats_sold    integer     NOT NULL DEFAULT 0 CHECK (seats_sold >= 0),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT seats_fit CHECK (seats_held + seats_sold <= seats_total)
);

CREATE INDEX courses_by_instructor ON courses (instructor_id, id);

CREATE TABLE reservations (
    course_id            uuid        NOT NULL REFERENCES courses (id),
    id                   uuid        NOT NULL,
    -- NULL only for a tombstone: an id cancelled before it was ever reserved.
    student_id           text,
    unit_price_cents     bigint      NOT NULL,
    currency             text        NOT NULL,
    expected_price_cents bigint,
    status               text        NOT NULL
        CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired', 'released')),
    expires_at           timestamptz NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (course_id, id),
    CONSTRAINT tombstones_are_cancelled CHECK (student_id IS NOT NULL OR status = 'cancelled')
);

CREATE UNIQUE INDEX one_live_reservation_per_student
    ON reservations (course_id, student_id) WHERE status IN ('held', 'confirmed');
CREATE INDEX holds_by_deadline ON reservations (expires_at) WHERE status = 'held';
CREATE INDEX tombstones_by_deadline ON reservations (expires_at) WHERE student_id IS NULL;

-- Live holds per student across all courses, for MAX_HOLDS_PER_STUDENT.
CREATE TABLE student_holds (
    student_id text    PRIMARY KEY,
    holds      integer NOT NULL CHECK (holds >= 0)
);
