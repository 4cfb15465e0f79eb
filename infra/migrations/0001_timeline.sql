-- The timeline as PostgreSQL keeps it: the log of record (one row per stream sequence of each
-- mode) and the projections folded from it. Every projection row is a pure function of
-- timeline_events in sequence order (services/timeline/domain.py), so the projections can be
-- truncated and folded again and must come out identical.
--
-- Keys carry the mode: an exercise may reuse a live operation's id, and the two never mix.

CREATE TABLE timeline_events (
    mode            text        NOT NULL CHECK (mode IN ('live', 'exercise')),
    seq             bigint      NOT NULL CHECK (seq >= 1),
    event_id        text        NOT NULL,
    operation       text        NOT NULL,
    type            text        NOT NULL,
    agency          text        NOT NULL,
    unit            text,
    sector          text,
    classification  text        NOT NULL,
    subject         text,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz,
    proposal_id     text,
    deliveries      jsonb,
    envelope        jsonb       NOT NULL,
    PRIMARY KEY (mode, seq),
    CONSTRAINT timeline_events_event_id_key UNIQUE (mode, event_id)
);
COMMENT ON TABLE timeline_events IS
    'Every record of the timeline streams, by (mode, stream sequence); first of each event id.';
COMMENT ON COLUMN timeline_events.deliveries IS
    'Ifc-Deliveries: who received which redaction; NULL when the record carried no routing.';
CREATE INDEX timeline_events_by_time ON timeline_events (mode, operation, occurred_at);
CREATE INDEX timeline_events_by_type ON timeline_events (mode, operation, type, seq);

-- Messages that could not be decoded: where they were and why, never their content (it may
-- hold personal data), so that nothing read from the stream goes unaccounted for.
CREATE TABLE timeline_unreadable (
    mode        text        NOT NULL CHECK (mode IN ('live', 'exercise')),
    seq         bigint      NOT NULL CHECK (seq >= 1),
    subject     text        NOT NULL,
    msg_id      text,
    reason      text        NOT NULL,
    detail      text        NOT NULL,
    size        integer     NOT NULL,
    sha256      text        NOT NULL,
    noted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mode, seq)
);

-- Where each durable consumer stands, written in the same transaction as what it projected.
CREATE TABLE projection_checkpoints (
    consumer    text        PRIMARY KEY,
    last_seq    bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE units (
    mode            text        NOT NULL,
    operation       text        NOT NULL,
    unit            text        NOT NULL,
    agency          text        NOT NULL,
    status          text        CHECK (status IN
                        ('available', 'en_route', 'on_scene', 'unavailable', 'checked_out')),
    incident        text,
    lon             double precision,
    lat             double precision,
    position_at     timestamptz,
    armed           boolean,
    personnel       integer,
    vehicles        integer,
    checked_in_at   timestamptz,
    checked_out_at  timestamptz,
    last_seq        bigint      NOT NULL,
    PRIMARY KEY (mode, operation, unit)
);
CREATE INDEX units_by_agency ON units (mode, operation, agency);

CREATE TABLE incidents (
    mode                    text        NOT NULL,
    operation               text        NOT NULL,
    incident                text        NOT NULL,
    category                text        NOT NULL,
    severity                text        NOT NULL,
    armed_threat            boolean     NOT NULL,
    people_involved         integer,
    status                  text        NOT NULL CHECK (status IN
                                ('open', 'assigned', 'acknowledged', 'resolved')),
    reporter                text        NOT NULL,
    reporter_unit           text,
    lon                     double precision NOT NULL,
    lat                     double precision NOT NULL,
    reported_at             timestamptz NOT NULL,
    assignee                text,
    assignee_unit           text,
    current_assignment_seq  bigint,
    first_assigned_at       timestamptz,
    acknowledged_at         timestamptz,
    resolved_at             timestamptz,
    outcome                 text,
    report_seq              bigint      NOT NULL,
    last_seq                bigint      NOT NULL,
    PRIMARY KEY (mode, operation, incident)
);
CREATE INDEX incidents_by_status ON incidents (mode, operation, status);

CREATE TABLE incident_assignments (
    mode            text        NOT NULL,
    operation       text        NOT NULL,
    incident        text        NOT NULL,
    assignment_seq  bigint      NOT NULL,
    assigned_by     text        NOT NULL,
    assignee        text        NOT NULL,
    assignee_unit   text,
    instructions    text        NOT NULL,
    assigned_at     timestamptz NOT NULL,
    answer          text        NOT NULL CHECK (answer IN
                        ('pending', 'acknowledged', 'declined', 'superseded')),
    answered_by     text,
    answered_at     timestamptz,
    answer_seq      bigint,
    eta_minutes     integer,
    decline_reason  text,
    PRIMARY KEY (mode, operation, incident, assignment_seq)
);

CREATE TABLE security_perimeters (
    mode            text        NOT NULL,
    operation       text        NOT NULL,
    perimeter       text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('established', 'lifted')),
    incident        text,
    reason          text,
    area            jsonb,
    lon             double precision,
    lat             double precision,
    established_by  text,
    established_at  timestamptz,
    lifted_by       text,
    lifted_at       timestamptz,
    lift_reason     text,
    last_seq        bigint      NOT NULL,
    PRIMARY KEY (mode, operation, perimeter)
);

CREATE TABLE rejections (
    mode                text        NOT NULL,
    event_id            text        NOT NULL,
    seq                 bigint      NOT NULL,
    operation           text        NOT NULL,
    proposal_id         text        NOT NULL,
    proposal_type       text        NOT NULL,
    proposer            text,
    credentials_agency  text,
    proposal_subject    text,
    reason_codes        text[]      NOT NULL,
    reasons             jsonb       NOT NULL,
    competent_agencies  text[]      NOT NULL,
    rejected_at         timestamptz NOT NULL,
    PRIMARY KEY (mode, event_id)
);
CREATE INDEX rejections_by_time ON rejections (mode, operation, rejected_at);
