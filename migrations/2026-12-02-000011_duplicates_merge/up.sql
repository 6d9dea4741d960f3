-- Duplicates and merges (API.md §9).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- The key two spellings of one name share: unaccented, lowercased, one
-- space between words. `unaccent` is only STABLE (its dictionary could
-- change); naming the dictionary makes the wrapper safe to index.
CREATE FUNCTION name_key(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT btrim(regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary, $1)), '[^a-z0-9]+', ' ', 'g'))
$$;

-- An address as one mailbox: lowercased, without a `+tag` in the local part
-- (jean+shop@example.com and Jean@example.com reach the same person).
CREATE FUNCTION email_key(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT regexp_replace(lower(btrim($1)), '\+[^@]*@', '@')
$$;

CREATE INDEX contacts_email_key_idx ON contacts (email_key(email)) WHERE email IS NOT NULL;
CREATE INDEX contacts_client_name_idx ON contacts (client_id, name_key(coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
    WHERE client_id IS NOT NULL;
CREATE INDEX clients_vat_idx ON clients (vat_number) WHERE vat_number IS NOT NULL;
CREATE INDEX clients_postal_code_idx ON clients ((billing_address ->> 'postal_code')) WHERE billing_address ? 'postal_code';
CREATE INDEX clients_name_trgm_idx ON clients USING gin (name_key(name) gin_trgm_ops);

-- A merged record keeps resolving to the one it was merged into (GET answers
-- 301; a data-subject request naming it reaches the survivor). The merged
-- contact's email is kept only as the HMAC the suppression list uses, and the
-- row goes with the survivor: an erasure of the survivor deletes it.
CREATE TABLE contact_merges (
    merged_id uuid PRIMARY KEY,
    survivor_id uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    email_hmac bytea,
    merged_at timestamptz NOT NULL DEFAULT now(),
    merged_by text NOT NULL,
    CHECK (merged_id <> survivor_id)
);
CREATE INDEX contact_merges_survivor_idx ON contact_merges (survivor_id);
CREATE INDEX contact_merges_email_idx ON contact_merges (email_hmac) WHERE email_hmac IS NOT NULL;
COMMENT ON COLUMN contact_merges.email_hmac IS 'pii';

CREATE TABLE client_merges (
    merged_id uuid PRIMARY KEY,
    survivor_id uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    merged_at timestamptz NOT NULL DEFAULT now(),
    merged_by text NOT NULL,
    CHECK (merged_id <> survivor_id)
);
CREATE INDEX client_merges_survivor_idx ON client_merges (survivor_id);
