-- The consultation journal: one row per read of the timeline (who, in which role, when, what
-- was asked, why, what was answered), append-only and chained by hashes.
--
-- seq is previous + 1, assigned by the writer under a transaction-scoped advisory lock (never
-- a sequence: a gap means a deletion). hash is the SHA-256 of the canonical JSON of every
-- other column, prev_hash included (services/crisis_api/journal_chain.py computes it, and
-- `interforces journal verify` checks it); the first row's prev_hash is 64 zeros.

CREATE TABLE consultation_journal (
    seq           bigint      PRIMARY KEY CHECK (seq >= 1),
    at            timestamptz NOT NULL,
    who           text        NOT NULL CHECK (who <> ''),
    role          text        NOT NULL CHECK (role IN
                      ('crisis_cell', 'agency', 'trainer', 'oversight', 'operator', 'anonymous')),
    agency        text,
    mode          text,
    operation     text,
    action        text        NOT NULL CHECK (action <> ''),
    request       jsonb       NOT NULL,
    motive        text,
    status        integer     NOT NULL CHECK (status BETWEEN 100 AND 599),
    result_count  integer     CHECK (result_count >= 0),
    prev_hash     text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash          text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
COMMENT ON TABLE consultation_journal IS
    'Every consultation of the timeline, append-only, chained by SHA-256 (prev_hash -> hash).';
COMMENT ON COLUMN consultation_journal.request IS
    'Path and query parameters of the consultation, as canonical JSON.';
CREATE INDEX consultation_journal_by_time ON consultation_journal (at);
CREATE INDEX consultation_journal_by_who ON consultation_journal (who, seq);
CREATE INDEX consultation_journal_by_operation ON consultation_journal (operation, seq);

-- Rows are never changed nor removed, whoever asks (a superuser included).
CREATE FUNCTION consultation_journal_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'consultation_journal is append-only: % refused', TG_OP
        USING HINT = 'Journal entries are never changed nor removed; append a new one.';
END
$$;
CREATE TRIGGER consultation_journal_no_change
    BEFORE UPDATE OR DELETE ON consultation_journal
    FOR EACH ROW EXECUTE FUNCTION consultation_journal_refuse_change();
CREATE TRIGGER consultation_journal_no_truncate
    BEFORE TRUNCATE ON consultation_journal
    FOR EACH STATEMENT EXECUTE FUNCTION consultation_journal_refuse_change();

-- The role the crisis-cell API assumes (SET ROLE): it reads the timeline and appends to the
-- journal, nothing else. Roles are cluster-wide: create it once, tolerate a concurrent
-- creation, and skip (with a notice) when the migrating user may not create roles.
DO $$
DECLARE
    may_assume boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ifc_crisis_api') THEN
        IF NOT EXISTS (
            SELECT FROM pg_roles
            WHERE rolname = current_user AND (rolsuper OR rolcreaterole)
        ) THEN
            RAISE NOTICE 'role ifc_crisis_api not created: % may not create roles', current_user;
        ELSE
            BEGIN
                CREATE ROLE ifc_crisis_api NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                RAISE NOTICE 'role ifc_crisis_api created concurrently';
            END;
        END IF;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ifc_crisis_api') THEN
        RETURN;
    END IF;
    GRANT SELECT ON timeline_events, timeline_unreadable, projection_checkpoints, units,
        incidents, incident_assignments, security_perimeters, rejections
        TO ifc_crisis_api;
    GRANT SELECT, INSERT ON consultation_journal TO ifc_crisis_api;
    BEGIN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO ifc_crisis_api', current_schema());
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'usage of schema % not granted to ifc_crisis_api', current_schema();
    END;
    -- The API connects as the migrating user and assumes the role: a user that is not a
    -- superuser must be granted it (creating a role does not give the right to assume it).
    BEGIN
        may_assume := pg_has_role(current_user, 'ifc_crisis_api', 'SET');
    EXCEPTION WHEN invalid_parameter_value THEN  -- before PostgreSQL 16, members may
        may_assume := pg_has_role(current_user, 'ifc_crisis_api', 'MEMBER');
    END;
    IF NOT may_assume THEN
        BEGIN
            EXECUTE format('GRANT ifc_crisis_api TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
            RAISE NOTICE '% may not assume ifc_crisis_api: grant it the role', current_user;
        END;
    END IF;
END
$$;
