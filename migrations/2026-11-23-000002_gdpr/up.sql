-- GDPR core: purposes and the consent ledger, the suppression list,
-- data-subject requests, the hash-chained audit trail, the Art. 30 register
-- and retention policies.

CREATE TABLE purposes (
    key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{1,49}$'),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
    lawful_basis text NOT NULL
        CHECK (lawful_basis IN ('consent', 'contract', 'legitimate_interest', 'legal_obligation')),
    retention_days integer NOT NULL CHECK (retention_days > 0),
    -- Withdrawn by an objection request.
    marketing boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
INSERT INTO purposes (key, description, lawful_basis, retention_days, marketing) VALUES
    ('newsletter', 'Sending the newsletter by email', 'consent', 1095, true),
    ('email_marketing', 'Commercial offers by email', 'consent', 1095, true),
    ('sms_marketing', 'Commercial offers by SMS', 'consent', 1095, true),
    ('phone_prospecting', 'Prospecting calls', 'legitimate_interest', 1095, true),
    ('partner_sharing', 'Sharing contact details with partners for their offers', 'consent', 1095, true),
    ('profiling', 'Segmentation and profiling to personalise offers', 'consent', 1095, true);

-- Append-only: one row per grant or withdrawal, never updated; deleted only
-- with the contact (erasure).
CREATE TABLE consent_events (
    id uuid PRIMARY KEY,
    contact_id uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    purpose text NOT NULL REFERENCES purposes (key) ON UPDATE CASCADE,
    status text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    channel text CHECK (channel IN ('web_form', 'checkout', 'email', 'phone', 'paper', 'api', 'import')),
    collected_at timestamptz NOT NULL,
    proof jsonb,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- Art. 7(1): a grant must be demonstrable.
    CHECK (status = 'withdrawn' OR (proof ? 'method' AND proof ? 'wording' AND channel IS NOT NULL)),
    CHECK (proof IS NULL OR NOT (proof->>'method' IN ('pre_checked', 'terms_acceptance')))
);
CREATE INDEX consent_events_current_idx ON consent_events (contact_id, purpose, collected_at DESC, id DESC);
CREATE INDEX consent_events_purpose_idx ON consent_events (purpose, contact_id);
COMMENT ON COLUMN consent_events.proof IS 'pii';

CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER consent_events_append_only BEFORE UPDATE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION refuse_update();

-- HMAC-SHA256 of normalised emails that must not come back as prospects.
CREATE TABLE suppression_list (
    email_hmac bytea PRIMARY KEY,
    reason text NOT NULL CHECK (reason IN ('erasure', 'objection', 'retention')),
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE contacts ADD COLUMN suppressed boolean NOT NULL DEFAULT false;

CREATE TABLE dsar_requests (
    id uuid PRIMARY KEY,
    type text NOT NULL
        CHECK (type IN ('access', 'rectification', 'erasure', 'portability', 'restriction', 'objection')),
    status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'completed', 'rejected')),
    subject_email text CHECK (length(subject_email) <= 254),
    subject_contact_id uuid,
    subject_hmac bytea,
    changes jsonb,
    requested_by text CHECK (length(requested_by) <= 500),
    note text CHECK (length(note) <= 2000),
    requester text NOT NULL,
    received_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL,
    extended boolean NOT NULL DEFAULT false,
    extension_reason text CHECK (length(extension_reason) <= 2000),
    closed_at timestamptz,
    rejection_reason text CHECK (length(rejection_reason) <= 2000),
    result jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL))
);
CREATE INDEX dsar_requests_created_idx ON dsar_requests (created_at, id);
CREATE INDEX dsar_requests_requester_idx ON dsar_requests (requester, created_at, id);
CREATE INDEX dsar_requests_subject_idx ON dsar_requests (subject_contact_id);
CREATE INDEX dsar_requests_hmac_idx ON dsar_requests (subject_hmac);
CREATE INDEX dsar_requests_due_idx ON dsar_requests (status, due_at);
COMMENT ON COLUMN dsar_requests.subject_email IS 'pii';
COMMENT ON COLUMN dsar_requests.changes IS 'pii';
COMMENT ON COLUMN dsar_requests.requested_by IS 'pii';
COMMENT ON COLUMN dsar_requests.note IS 'pii';

-- The audit trail: append-only, each entry hashed with the previous one.
-- Field names only, never values.
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text,
    request_id text,
    fields jsonb NOT NULL DEFAULT '[]',
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, seq);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, seq);
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_update();
-- The head of the chain: appending locks this row, so entries chain in order;
-- it also lets verify notice a deleted last entry.
CREATE TABLE audit_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- The Art. 30 record of processing activities.
CREATE TABLE processing_activities (
    id uuid PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    purposes jsonb NOT NULL DEFAULT '[]',
    lawful_basis text NOT NULL
        CHECK (lawful_basis IN ('consent', 'contract', 'legitimate_interest', 'legal_obligation')),
    data_subjects jsonb NOT NULL DEFAULT '[]',
    data_categories jsonb NOT NULL DEFAULT '[]',
    recipients jsonb NOT NULL DEFAULT '[]',
    retention text NOT NULL,
    transfers text NOT NULL DEFAULT 'none outside the EEA',
    security_measures jsonb NOT NULL DEFAULT '[]',
    source text NOT NULL DEFAULT 'the data subject',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
INSERT INTO processing_activities
    (id, name, purposes, lawful_basis, data_subjects, data_categories, recipients, retention, security_measures, source)
VALUES
    ('01900000-0000-7000-8000-000000000001', 'Customer management',
     '["order processing", "invoicing", "after-sales service"]', 'contract',
     '["customers"]', '["identity", "contact details", "orders", "payment status"]',
     '["sales staff", "accounting", "the e-commerce platform"]',
     'duration of the relationship, then 3 years after the last order; invoices 10 years (accounting duty)',
     '["access control by scoped tokens", "audit trail with hash chain", "TLS in transit", "suppression list as HMAC"]',
     'the data subject, at order time'),
    ('01900000-0000-7000-8000-000000000002', 'Prospecting',
     '["prospecting by email, SMS and phone", "newsletter"]', 'consent',
     '["prospects"]', '["identity", "contact details", "consents with proof", "interactions"]',
     '["sales staff", "marketing staff"]',
     '3 years after the last contact initiated by the prospect',
     '["access control by scoped tokens", "audit trail with hash chain", "consent ledger append-only"]',
     'the data subject, forms, trade fairs, purchased lists with proof of consent'),
    ('01900000-0000-7000-8000-000000000003', 'Data-subject requests',
     '["handling access, rectification, erasure, portability, restriction and objection requests"]', 'legal_obligation',
     '["customers", "prospects"]', '["identity", "request details"]',
     '["data protection officer"]',
     'until the request is closed, then its record without personal data',
     '["dsar:manage scope", "audit trail"]', 'the data subject or a relaying third party');

CREATE TABLE retention_policies (
    status text PRIMARY KEY CHECK (status IN ('prospect', 'customer', 'former_customer')),
    -- NULL: never erased automatically.
    days integer CHECK (days > 0),
    -- What starts the clock.
    basis text NOT NULL CHECK (basis IN ('last_interaction', 'last_order')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
INSERT INTO retention_policies (status, days, basis) VALUES
    ('prospect', 1095, 'last_interaction'),
    ('customer', NULL, 'last_order'),
    ('former_customer', 1095, 'last_order');
