-- Integrator plumbing: the transactional outbox (events), webhook
-- subscriptions and their deliveries, DSAR status callbacks, revoked tokens.

-- Every write emits an event in the transaction of the change: a rolled-back
-- change emits nothing. `data` is the resource as the API returns it (ids only
-- for deletions and erasures); erasure scrubs it.
CREATE TABLE events (
    seq bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    type text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    resource_type text NOT NULL,
    resource_id text NOT NULL,
    changed_fields jsonb NOT NULL DEFAULT '[]',
    data jsonb
);
CREATE INDEX events_type_idx ON events (type, seq);
CREATE INDEX events_resource_idx ON events (resource_id);
CREATE INDEX events_occurred_idx ON events (occurred_at);
COMMENT ON COLUMN events.data IS 'pii';

CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    url text NOT NULL CHECK (length(url) <= 2048),
    events jsonb NOT NULL DEFAULT '["*"]' CHECK (jsonb_typeof(events) = 'array'),
    secret text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    -- Set for a DSAR status callback: only that request's events go there.
    dsar_id uuid,
    external_id text CHECK (length(external_id) <= 200),
    failing_since timestamptz,
    disabled_reason text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX webhooks_enabled_idx ON webhooks (enabled) WHERE dsar_id IS NULL;
CREATE UNIQUE INDEX webhooks_dsar_idx ON webhooks (dsar_id) WHERE dsar_id IS NOT NULL;

-- One row per (webhook, event): the delivery queue, leased by workers.
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_seq bigint NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    last_status_code integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (webhook_id, event_seq) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    error text,
    duration_ms integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

ALTER TABLE dsar_requests ADD COLUMN external_id text CHECK (length(external_id) <= 200);

CREATE TABLE revoked_tokens (
    jti text PRIMARY KEY CHECK (length(jti) <= 200),
    revoked_by text NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
