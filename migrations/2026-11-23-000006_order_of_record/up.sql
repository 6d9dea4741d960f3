-- The order of record (issue 12): rows that feed readers carry the id of the
-- transaction that wrote them (xid8), and readers only return rows below the
-- oldest transaction still running (pg_snapshot_xmin), ordered by
-- (transaction, sequence). A row numbered early but committed late can then
-- never land behind a position a reader has already passed.

-- Events: ordered by (tx, seq). Existing rows all take this migration's
-- transaction id, so their order stays the order of their seq.
ALTER TABLE events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (tx, seq);
DROP INDEX events_type_idx;
CREATE INDEX events_type_idx ON events (type, tx, seq);
-- Delta sync reads one resource type's changes in order.
CREATE INDEX events_resource_type_idx ON events (resource_type, tx, seq);

-- Where the feed started counting by transaction: a cursor of the old form
-- (a bare seq) maps to (this transaction, seq), exactly where it was.
CREATE TABLE record_epoch (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    -- The newest position purged from the feed (retention): a sync token
    -- behind it answers 410, since changes it would need are gone.
    purged_tx xid8,
    purged_seq bigint
);
INSERT INTO record_epoch DEFAULT VALUES;

-- Webhook deliveries go out per subscription in the order of record, and only
-- once every transaction that could precede them has ended.
ALTER TABLE webhook_deliveries ADD COLUMN event_tx xid8 NOT NULL DEFAULT pg_current_xact_id();
DROP INDEX webhook_deliveries_pending_idx;
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (webhook_id, event_tx, event_seq)
    WHERE status = 'pending';

-- The audit trail no longer serialises writers. A writer appends its entries
-- to audit_pending in its own transaction, with no shared lock; one sealer
-- (an advisory lock, so one across replicas) moves them into audit_log in
-- the order of record, numbering and chaining them, and signs checkpoints.
-- audit_log stays strictly append-only.
CREATE SEQUENCE audit_pending_ord_seq;
CREATE TABLE audit_pending (
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ord bigint NOT NULL DEFAULT nextval('audit_pending_ord_seq'),
    id uuid NOT NULL,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    resource_type text NOT NULL,
    resource_id text,
    request_id text,
    fields jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (tx, ord)
);
ALTER SEQUENCE audit_pending_ord_seq OWNED BY audit_pending.ord;
CREATE TRIGGER audit_pending_append_only BEFORE UPDATE ON audit_pending
    FOR EACH ROW EXECUTE FUNCTION refuse_update();

-- Signed checkpoints of the chain head, for someone outside the database to keep.
CREATE TABLE audit_checkpoints (
    seq bigint PRIMARY KEY,
    hash bytea NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    signature bytea NOT NULL
);
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION refuse_update();
COMMENT ON TABLE audit_head IS 'head of the sealed chain; written by the sealer only';
