-- Segments (API.md §12): every field of the filter language served by an
-- index, the 12-month spend stored and kept exact as time passes, the
-- current consent per purpose on the contact, saved segments.

-- The 12-month window. Stored spends count the sale orders dated on or after
-- `window_start`; order writes add their deltas against it and the sweep
-- (`services::stats::sweep_window`) moves it forward, taking out of the
-- stored sums the orders it leaves behind, in one transaction. A writer that
-- touches an order near the boundary takes this row FOR SHARE, the sweep
-- takes it FOR UPDATE: they never interleave on the orders that move.
CREATE TABLE spend_window (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    window_start timestamptz NOT NULL
);
INSERT INTO spend_window (window_start) VALUES (now() - interval '12 months');

ALTER TABLE contacts ADD COLUMN spent_last_12m_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN spent_last_12m_cents bigint NOT NULL DEFAULT 0;

UPDATE contacts t SET spent_last_12m_cents = s.total
FROM (SELECT contact_id, sum(total_cents)::bigint AS total FROM orders
      WHERE contact_id IS NOT NULL AND status IN ('pending', 'paid', 'fulfilled')
        AND ordered_at >= (SELECT window_start FROM spend_window)
      GROUP BY contact_id) s
WHERE t.id = s.contact_id;

UPDATE clients t SET spent_last_12m_cents = s.total
FROM (SELECT client_id, sum(total_cents)::bigint AS total FROM orders
      WHERE client_id IS NOT NULL AND status IN ('pending', 'paid', 'fulfilled')
        AND ordered_at >= (SELECT window_start FROM spend_window)
      GROUP BY client_id) s
WHERE t.id = s.client_id;

-- The current consent state per purpose, from the ledger (the latest event
-- by `collected_at`, then id), kept by a trigger in the consent write's
-- transaction whatever writes the ledger (the API, a batch, an erasure). A
-- table of its own rather than an array on the contact: its btree statistics
-- tell the planner that nobody granted a purpose (an array's element
-- statistics guess a quarter of the table), so a segment on a rare consent
-- probes this index instead of walking the contacts in page order.
CREATE TABLE consent_state (
    contact_id uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    purpose text NOT NULL,
    status text NOT NULL CHECK (status IN ('granted', 'withdrawn')),
    PRIMARY KEY (contact_id, purpose)
);
CREATE INDEX consent_state_purpose_idx ON consent_state (purpose, status, contact_id);

INSERT INTO consent_state (contact_id, purpose, status)
SELECT DISTINCT ON (contact_id, purpose) contact_id, purpose, status FROM consent_events
ORDER BY contact_id, purpose, collected_at DESC, id DESC;

CREATE FUNCTION consent_state_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r consent_events%ROWTYPE;
    cur text;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    SELECT status INTO cur FROM consent_events
    WHERE contact_id = r.contact_id AND purpose = r.purpose
    ORDER BY collected_at DESC, id DESC LIMIT 1;
    IF cur IS NULL THEN
        DELETE FROM consent_state WHERE contact_id = r.contact_id AND purpose = r.purpose;
    ELSIF EXISTS (SELECT 1 FROM contacts WHERE id = r.contact_id) THEN
        INSERT INTO consent_state (contact_id, purpose, status) VALUES (r.contact_id, r.purpose, cur)
        ON CONFLICT (contact_id, purpose) DO UPDATE SET status = EXCLUDED.status
        WHERE consent_state.status <> EXCLUDED.status;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER consent_events_state AFTER INSERT OR DELETE ON consent_events
    FOR EACH ROW EXECUTE FUNCTION consent_state_refresh();

-- Indexes: one per field of the language that had none.
CREATE INDEX contacts_spent_12m_idx ON contacts (spent_last_12m_cents);
CREATE INDEX contacts_total_spent_idx ON contacts (total_spent_cents);
CREATE INDEX contacts_orders_count_idx ON contacts (orders_count);
CREATE INDEX contacts_first_order_idx ON contacts (first_order_at);
CREATE INDEX contacts_last_order_idx ON contacts (last_order_at);
CREATE INDEX contacts_last_order_total_idx ON contacts (last_order_total_cents);
CREATE INDEX contacts_source_idx ON contacts (source);
CREATE INDEX clients_spent_12m_idx ON clients (spent_last_12m_cents);
CREATE INDEX clients_total_spent_idx ON clients (total_spent_cents);
CREATE INDEX clients_orders_count_idx ON clients (orders_count);
CREATE INDEX clients_first_order_idx ON clients (first_order_at);
CREATE INDEX clients_last_order_total_idx ON clients (last_order_total_cents);
CREATE INDEX clients_acquisition_idx ON clients (acquisition_channel);
CREATE INDEX clients_naf_prefix_idx ON clients (naf_code text_pattern_ops);
CREATE INDEX orders_status_ordered_idx ON orders (status, ordered_at);

-- Saved segments. A filter names no person: the fields that identify one
-- (email, names, `q`) are refused in a saved filter, so erasure has nothing
-- to reach here.
CREATE TABLE segments (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    resource text NOT NULL CHECK (resource IN ('contacts', 'clients')),
    filter jsonb NOT NULL CHECK (jsonb_typeof(filter) = 'object'),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE INDEX segments_created_idx ON segments (created_at, id);
