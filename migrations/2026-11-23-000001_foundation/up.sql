-- Foundation: clients (companies), contacts (people), interactions, orders,
-- order lines and stored idempotency keys.
-- Columns holding personal data carry COMMENT 'pii': erasure reads that list.

CREATE TABLE clients (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    status text NOT NULL DEFAULT 'prospect'
        CHECK (status IN ('prospect', 'customer', 'former_customer')),
    siren text CONSTRAINT clients_siren_key UNIQUE CHECK (siren ~ '^[0-9]{9}$'),
    siret text CONSTRAINT clients_siret_key UNIQUE CHECK (siret ~ '^[0-9]{14}$'),
    vat_number text CHECK (vat_number ~ '^[A-Z]{2}[0-9A-Z]{2,13}$'),
    naf_code text CHECK (naf_code ~ '^[0-9]{2}\.[0-9]{2}[A-Z]$'),
    sector text CHECK (length(sector) <= 100),
    employee_count integer CHECK (employee_count >= 0),
    annual_revenue_cents bigint CHECK (annual_revenue_cents >= 0),
    currency text CHECK (currency ~ '^[A-Z]{3}$'),
    website text CHECK (length(website) <= 2048),
    billing_address jsonb CHECK (billing_address IS NULL OR jsonb_typeof(billing_address) = 'object'),
    acquisition_channel text CHECK (length(acquisition_channel) <= 100),
    owner text CHECK (length(owner) <= 200),
    tags jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tags) = 'array'),
    custom_fields jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    orders_count bigint NOT NULL DEFAULT 0 CHECK (orders_count >= 0),
    total_spent_cents bigint NOT NULL DEFAULT 0,
    first_order_at timestamptz,
    last_order_at timestamptz,
    last_order_total_cents bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK (siren IS NULL OR siret IS NULL OR left(siret, 9) = siren)
);
CREATE INDEX clients_created_idx ON clients (created_at, id);
CREATE INDEX clients_updated_idx ON clients (updated_at, id);
CREATE INDEX clients_status_idx ON clients (status, created_at, id);
CREATE INDEX clients_sector_idx ON clients (sector);
CREATE INDEX clients_naf_idx ON clients (naf_code);
CREATE INDEX clients_tags_idx ON clients USING gin (tags jsonb_path_ops);
CREATE INDEX clients_name_prefix_idx ON clients (lower(name) text_pattern_ops);
CREATE INDEX clients_employee_idx ON clients (employee_count);
CREATE INDEX clients_revenue_idx ON clients (annual_revenue_cents);
CREATE INDEX clients_last_order_idx ON clients (last_order_at);

CREATE TABLE contacts (
    id uuid PRIMARY KEY,
    client_id uuid REFERENCES clients (id) ON DELETE SET NULL,
    first_name text CHECK (length(first_name) <= 100),
    last_name text CHECK (length(last_name) <= 100),
    email text CHECK (length(email) <= 254 AND position('@' IN email) > 1),
    phone text CHECK (phone ~ '^\+[1-9][0-9]{7,14}$'),
    job_title text CHECK (length(job_title) <= 200),
    birth_date date CHECK (birth_date >= DATE '1900-01-01'),
    status text NOT NULL DEFAULT 'prospect'
        CHECK (status IN ('prospect', 'customer', 'former_customer')),
    source text CHECK (length(source) <= 100),
    lawful_basis text NOT NULL DEFAULT 'legitimate_interest'
        CHECK (lawful_basis IN ('consent', 'contract', 'legitimate_interest', 'legal_obligation')),
    restricted boolean NOT NULL DEFAULT false,
    last_interaction_at timestamptz,
    tags jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tags) = 'array'),
    custom_fields jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    orders_count bigint NOT NULL DEFAULT 0 CHECK (orders_count >= 0),
    total_spent_cents bigint NOT NULL DEFAULT 0,
    first_order_at timestamptz,
    last_order_at timestamptz,
    last_order_total_cents bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- Erasure deletes the row; an anonymous contact with nothing is meaningless.
    CHECK (email IS NOT NULL OR phone IS NOT NULL OR last_name IS NOT NULL)
);
CREATE UNIQUE INDEX contacts_email_lower_key ON contacts (lower(email));
CREATE INDEX contacts_created_idx ON contacts (created_at, id);
CREATE INDEX contacts_updated_idx ON contacts (updated_at, id);
CREATE INDEX contacts_client_idx ON contacts (client_id, created_at, id);
CREATE INDEX contacts_status_idx ON contacts (status, created_at, id);
CREATE INDEX contacts_tags_idx ON contacts USING gin (tags jsonb_path_ops);
CREATE INDEX contacts_last_name_prefix_idx ON contacts (lower(last_name) text_pattern_ops);
CREATE INDEX contacts_first_name_prefix_idx ON contacts (lower(first_name) text_pattern_ops);
CREATE INDEX contacts_email_prefix_idx ON contacts (lower(email) text_pattern_ops);
CREATE INDEX contacts_retention_idx ON contacts (status, last_interaction_at);

COMMENT ON COLUMN contacts.first_name IS 'pii';
COMMENT ON COLUMN contacts.last_name IS 'pii';
COMMENT ON COLUMN contacts.email IS 'pii';
COMMENT ON COLUMN contacts.phone IS 'pii';
COMMENT ON COLUMN contacts.job_title IS 'pii';
COMMENT ON COLUMN contacts.birth_date IS 'pii';
COMMENT ON COLUMN contacts.custom_fields IS 'pii';
COMMENT ON COLUMN contacts.tags IS 'pii';

CREATE TABLE interactions (
    id uuid PRIMARY KEY,
    contact_id uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note')),
    direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    occurred_at timestamptz NOT NULL,
    summary text CHECK (char_length(summary) <= 2000),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX interactions_contact_idx ON interactions (contact_id, created_at, id);
COMMENT ON COLUMN interactions.summary IS 'pii';

CREATE TABLE orders (
    id uuid PRIMARY KEY,
    -- RESTRICT: a company with sales cannot vanish from the books.
    client_id uuid REFERENCES clients (id) ON DELETE RESTRICT,
    -- SET NULL: erasure detaches orders from the person, keeping the sale.
    contact_id uuid REFERENCES contacts (id) ON DELETE SET NULL,
    source text NOT NULL DEFAULT 'api' CHECK (source ~ '^[a-z0-9][a-z0-9_.-]{0,49}$'),
    external_id text CHECK (length(external_id) BETWEEN 1 AND 200),
    number text CHECK (length(number) <= 100),
    status text NOT NULL CHECK (status IN ('pending', 'paid', 'fulfilled', 'cancelled', 'refunded')),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    ordered_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    CONSTRAINT orders_source_external_id_key UNIQUE (source, external_id)
);
CREATE INDEX orders_created_idx ON orders (created_at, id);
CREATE INDEX orders_updated_idx ON orders (updated_at, id);
CREATE INDEX orders_client_idx ON orders (client_id, ordered_at);
CREATE INDEX orders_contact_idx ON orders (contact_id, ordered_at);
CREATE INDEX orders_status_idx ON orders (status, created_at, id);
CREATE INDEX orders_ordered_at_idx ON orders (ordered_at);

CREATE TABLE order_lines (
    order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position >= 0),
    sku text CHECK (length(sku) <= 100),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, position)
);

-- Answers replayed for a repeated Idempotency-Key (24 h). The stored body may
-- hold personal data: erasure deletes the rows of the erased resources, and
-- rows older than a day are purged.
CREATE TABLE idempotency_keys (
    subject text NOT NULL,
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash bytea NOT NULL,
    status_code smallint,
    response_headers jsonb,
    response_body bytea,
    resource_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_resource_idx ON idempotency_keys (resource_id);
COMMENT ON COLUMN idempotency_keys.response_body IS 'pii';
