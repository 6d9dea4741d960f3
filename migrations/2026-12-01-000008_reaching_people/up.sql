-- Reaching people lawfully (API.md §8): the audience of a contact, one-click
-- unsubscribe links, provenance and Art. 14 notices, flags of special-category
-- free text.

-- `professional` (B2B: messages about the person's job) or `consumer`.
-- Defaulted from client_id by the trigger when a writer does not say.
ALTER TABLE contacts ADD COLUMN audience text CHECK (audience IN ('consumer', 'professional'));
UPDATE contacts SET audience = CASE WHEN client_id IS NULL THEN 'consumer' ELSE 'professional' END;
ALTER TABLE contacts ALTER COLUMN audience SET NOT NULL;
CREATE FUNCTION contacts_default_audience() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.audience IS NULL THEN
        NEW.audience := CASE WHEN NEW.client_id IS NULL THEN 'consumer' ELSE 'professional' END;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER contacts_default_audience BEFORE INSERT ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_default_audience();
CREATE INDEX contacts_audience_idx ON contacts (audience, created_at, id);
CREATE INDEX contacts_phone_idx ON contacts (phone) WHERE phone IS NOT NULL;

-- Where the data came from (Art. 14, Art. 15(1)(g)) and the notice it owes.
ALTER TABLE contacts
    ADD COLUMN provenance jsonb CHECK (provenance IS NULL OR (jsonb_typeof(provenance) = 'object'
        AND provenance->>'source_type' IN ('form', 'checkout', 'import', 'purchase', 'partner', 'public_register',
                                           'manual', 'api'))),
    ADD COLUMN art14_notice_due_at timestamptz,
    ADD COLUMN art14_notice_sent_at timestamptz;
CREATE INDEX contacts_notice_due_idx ON contacts (art14_notice_due_at, id)
    WHERE art14_notice_due_at IS NOT NULL AND art14_notice_sent_at IS NULL;

CREATE TABLE contact_notices (
    id uuid PRIMARY KEY,
    contact_id uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    channel text NOT NULL CHECK (channel IN ('email', 'postal', 'sms', 'phone', 'in_person')),
    sent_at timestamptz NOT NULL,
    template_version text NOT NULL CHECK (length(template_version) BETWEEN 1 AND 100),
    recorded_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_notices_contact_idx ON contact_notices (contact_id, sent_at);

-- One-click unsubscribe (RFC 8058): one link per contact and purpose. The
-- token is an HMAC of (contact, purpose, nonce) under the server key: the
-- same URL every time it is asked for, and only its SHA-256 is stored.
-- Erasure deletes the contact, hence its links.
CREATE TABLE unsubscribe_links (
    contact_id uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    purpose text NOT NULL REFERENCES purposes (key) ON UPDATE CASCADE ON DELETE CASCADE,
    nonce bytea NOT NULL CHECK (length(nonce) = 16),
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    PRIMARY KEY (contact_id, purpose)
);

-- Free text that looked like special-category data, kept under
-- CLIENTELE_SENSITIVE_TEXT=flag for a person to review. Field and category
-- only: never the text.
CREATE TABLE sensitive_flags (
    id uuid PRIMARY KEY,
    resource_type text NOT NULL CHECK (resource_type IN ('client', 'contact', 'interaction', 'order')),
    resource_id uuid NOT NULL,
    field text NOT NULL CHECK (length(field) <= 200),
    category text NOT NULL,
    lexicon_version text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensitive_flags_created_idx ON sensitive_flags (created_at, id);
CREATE INDEX sensitive_flags_resource_idx ON sensitive_flags (resource_id);
