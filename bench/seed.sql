-- Seeds a migrated, empty Clientele database for the load benchmark
-- (bench/run.sh). Reproducible: every row is a function of its number, so
-- two seeds at the same scale are identical but for `recorded_at` columns.
--
--   psql -v clients=100000 -v contacts=1000000 -v orders=2000000 -v digest=x -f bench/seed.sql
--
-- Ids are `bench_id(kind, n)`: kind 1 client, 2 contact, 3 order,
-- 4 consent event, 5 interaction; the load scripts and the pgbench ceilings
-- build the same ids from a random n. Contacts 1..60% own the orders
-- (customers), the rest are prospects; 9 contacts in 10 belong to a client.
-- Stored stats are computed from the orders, as the service keeps them.
\set ON_ERROR_STOP on
\timing off
SET client_min_messages = warning;
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';
-- Seeded rows are consistent by construction: skip the FK and append-only
-- triggers while loading (superuser only).
SET session_replication_role = replica;
-- One transaction: a failure leaves the database as it was (indexes included).
BEGIN;

CREATE OR REPLACE FUNCTION bench_id(kind int, n bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (lpad(to_hex(kind), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid $$;

-- SIREN with a valid Luhn key from an 8-digit base.
CREATE OR REPLACE FUNCTION bench_siren(base bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT b || ((10 - (sum(CASE WHEN i % 2 = 0
                                 THEN (d * 2) / 10 + (d * 2) % 10 ELSE d END) % 10)) % 10)::text
    FROM (SELECT lpad(base::text, 8, '0') AS b) s,
         LATERAL (SELECT i, substr(s.b, i, 1)::int AS d FROM generate_series(1, 8) i) digits
    GROUP BY b
$$;

DROP TABLE IF EXISTS bench_seed;
TRUNCATE clients, contacts, orders, order_lines, interactions, consent_events, events, audit_log,
    idempotency_keys, webhook_deliveries, webhook_attempts CASCADE;
UPDATE audit_head SET seq = 0, hash = '\x0000000000000000000000000000000000000000000000000000000000000000';

-- Secondary indexes are dropped while loading and rebuilt after: far faster.
CREATE TEMP TABLE bench_indexes AS
    SELECT indexname, indexdef FROM pg_indexes
    WHERE schemaname = 'public'
      AND tablename IN ('clients', 'contacts', 'orders', 'order_lines', 'interactions', 'consent_events')
      AND indexname NOT IN (SELECT conname FROM pg_constraint);
SELECT format('DROP INDEX %I', indexname) FROM bench_indexes \gexec

-- The orders, numbered m, with their owners and amounts.
CREATE TEMP TABLE bench_orders AS
SELECT m, c AS contact_n,
       CASE WHEN c % 10 = 0 THEN NULL ELSE (c - 1) % :clients + 1 END AS client_n,
       CASE WHEN m % 20 = 0 THEN 'cancelled' WHEN m % 20 = 1 THEN 'refunded' WHEN m % 20 = 2 THEN 'pending'
            WHEN m % 2 = 0 THEN 'paid' ELSE 'fulfilled' END AS status,
       a, b, a + 2 * b AS total,
       timestamptz '2023-12-01 00:00:00+00' + m * (interval '45 seconds') * (2000000.0 / :orders) AS ordered_at
FROM (SELECT m, (m - 1) % greatest(:contacts * 6 / 10, 1) + 1 AS c,
             500 + (m * 7919) % 20000 AS a, 250 + (m * 104729) % 10000 AS b
      FROM generate_series(1::bigint, :orders) m) g;

-- The 12-month window starts now (the service's sweep keeps it moving).
UPDATE spend_window SET window_start = now() - interval '12 months';

CREATE TEMP TABLE bench_stats AS
SELECT kind, n, count(*) FILTER (WHERE sale) AS cnt,
       coalesce(sum(total) FILTER (WHERE sale), 0)::bigint AS spent,
       coalesce(sum(total) FILTER (WHERE sale AND ordered_at >= (SELECT window_start FROM spend_window)), 0)::bigint
         AS spent_12m,
       min(ordered_at) FILTER (WHERE sale) AS first_at,
       max(ordered_at) FILTER (WHERE sale) AS last_at,
       (array_agg(total ORDER BY ordered_at DESC, m DESC) FILTER (WHERE sale))[1] AS last_total,
       (array_agg(m ORDER BY ordered_at DESC, m DESC) FILTER (WHERE sale))[1] AS last_m,
       bool_or(status <> 'cancelled') AS customer
FROM (SELECT 1 AS kind, client_n AS n, total, ordered_at, m, status,
             status IN ('pending', 'paid', 'fulfilled') AS sale FROM bench_orders WHERE client_n IS NOT NULL
      UNION ALL
      SELECT 2, contact_n, total, ordered_at, m, status, status IN ('pending', 'paid', 'fulfilled')
      FROM bench_orders) o
GROUP BY kind, n;
CREATE INDEX ON bench_stats (kind, n);

INSERT INTO clients (id, name, status, siren, naf_code, sector, employee_count, annual_revenue_cents, currency,
                     website, billing_address, acquisition_channel, owner, tags, orders_count, total_spent_cents,
                     first_order_at, last_order_at, last_order_total_cents, last_order_id, created_at, updated_at,
                     spent_last_12m_cents)
SELECT bench_id(1, k), 'Company ' || k || ' SAS',
       CASE WHEN s.customer THEN 'customer' ELSE 'prospect' END,
       bench_siren(10000000 + k),
       (ARRAY['62.01Z', '47.91A', '46.90Z', '70.22Z', '56.10A'])[k % 5 + 1],
       (ARRAY['software', 'retail', 'wholesale', 'consulting', 'food'])[k % 5 + 1],
       (k * 37) % 5000, ((k * 7919) % 100000) * 100000::bigint, 'EUR',
       'https://company' || k || '.example.com',
       jsonb_build_object('line1', k || ' rue de la Paix', 'postal_code', lpad((k % 95000 + 1000)::text, 5, '0'),
                          'city', 'Paris', 'country', 'FR'),
       (ARRAY['web', 'referral', 'event', 'outbound'])[k % 4 + 1],
       'sales' || (k % 20) || '@clientele.example',
       CASE WHEN k % 7 = 0 THEN '["key_account"]'::jsonb ELSE '[]'::jsonb END,
       coalesce(s.cnt, 0), coalesce(s.spent, 0), s.first_at, s.last_at, s.last_total, bench_id(3, s.last_m),
       timestamptz '2023-06-01 00:00:00+00' + k * interval '700 seconds' * (100000.0 / :clients),
       timestamptz '2023-06-01 00:00:00+00' + k * interval '700 seconds' * (100000.0 / :clients),
       coalesce(s.spent_12m, 0)
FROM generate_series(1, :clients) k
LEFT JOIN bench_stats s ON s.kind = 1 AND s.n = k;

INSERT INTO contacts (id, client_id, first_name, last_name, email, phone, job_title, status, source, lawful_basis,
                      last_interaction_at, tags, orders_count, total_spent_cents, first_order_at, last_order_at,
                      last_order_total_cents, last_order_id, created_at, updated_at, audience, spent_last_12m_cents)
SELECT bench_id(2, g.n),
       CASE WHEN g.n % 10 = 0 THEN NULL ELSE bench_id(1, (g.n - 1) % :clients + 1) END,
       fn, ln, lower(translate(fn, 'éèï', 'eei')) || '.' || lower(ln) || '.' || g.n || '@example.com',
       '+336' || lpad((g.n % 100000000)::text, 8, '0'),
       (ARRAY['CEO', 'CFO', 'Buyer', 'Office manager', NULL])[g.n % 5 + 1],
       CASE WHEN s.customer THEN 'customer' ELSE 'prospect' END,
       (ARRAY['shopify', 'web_form', 'import', 'event'])[g.n % 4 + 1],
       CASE WHEN s.customer THEN 'contract' ELSE 'legitimate_interest' END,
       CASE WHEN g.n % 3 = 0 THEN timestamptz '2024-01-01 00:00:00+00' + g.n * interval '60 seconds' END,
       CASE WHEN g.n % 11 = 0 THEN '["vip"]'::jsonb ELSE '[]'::jsonb END,
       coalesce(s.cnt, 0), coalesce(s.spent, 0), s.first_at, s.last_at, s.last_total, bench_id(3, s.last_m), at, at,
       -- The triggers are off while seeding: the audience the trigger would default.
       CASE WHEN g.n % 10 = 0 THEN 'consumer' ELSE 'professional' END,
       coalesce(s.spent_12m, 0)
FROM (SELECT n, (ARRAY['Camille', 'Louis', 'Léa', 'Hugo', 'Chloé', 'Jules', 'Manon', 'Arthur', 'Inès', 'Gabriel'])[n % 10 + 1] AS fn,
             (ARRAY['Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau',
                    'Simon', 'Laurent', 'Lefebvre'])[n % 13 + 1] AS ln,
             timestamptz '2023-06-01 00:00:00+00' + n * interval '80 seconds' * (1000000.0 / :contacts) AS at
      FROM generate_series(1, :contacts) n) g
LEFT JOIN bench_stats s ON s.kind = 2 AND s.n = g.n;

INSERT INTO orders (id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at,
                    created_at, updated_at)
SELECT bench_id(3, m), CASE WHEN client_n IS NOT NULL THEN bench_id(1, client_n) END, bench_id(2, contact_n),
       'shopify', 'ord-' || m, '#' || (100000 + m), status, 'EUR', total, ordered_at,
       ordered_at + interval '1 minute', ordered_at + interval '1 minute'
FROM bench_orders;

INSERT INTO order_lines (order_id, position, sku, name, quantity, unit_price_cents)
SELECT bench_id(3, m), 0, 'SKU-' || (m % 500), 'Product ' || (m % 500), 1, a FROM bench_orders
UNION ALL
SELECT bench_id(3, m), 1, 'SKU-' || (m % 700 + 500), 'Product ' || (m % 700 + 500), 2, b FROM bench_orders;

INSERT INTO interactions (id, contact_id, kind, direction, occurred_at, summary, created_by, created_at)
SELECT bench_id(5, n), bench_id(2, n), 'call', 'outbound',
       timestamptz '2024-01-01 00:00:00+00' + n * interval '60 seconds', 'Discovery call', 'bench',
       timestamptz '2024-01-01 00:00:00+00' + n * interval '60 seconds'
FROM generate_series(3, :contacts, 3) n;

INSERT INTO consent_events (id, contact_id, purpose, status, channel, collected_at, proof, recorded_by)
SELECT bench_id(4, n), bench_id(2, n), 'newsletter', 'granted', 'web_form',
       timestamptz '2023-06-01 00:00:00+00' + n * interval '80 seconds' * (1000000.0 / :contacts),
       '{"method": "double_opt_in", "wording": "Send me the newsletter"}'::jsonb, 'bench'
FROM generate_series(2, :contacts, 2) n
UNION ALL
SELECT bench_id(4, :contacts + n), bench_id(2, n), 'email_marketing', 'withdrawn', 'email',
       timestamptz '2024-06-01 00:00:00+00' + n * interval '10 seconds', NULL, 'bench'
FROM generate_series(5, :contacts, 5) n;

-- The current state the ledger's trigger would keep (triggers are off).
INSERT INTO consent_state (contact_id, purpose, status)
SELECT DISTINCT ON (contact_id, purpose) contact_id, purpose, status FROM consent_events
ORDER BY contact_id, purpose, collected_at DESC, id DESC;

SELECT indexdef FROM bench_indexes \gexec
SET session_replication_role = origin;

-- What load.rs compares before seeding again: the size and this file's digest.
CREATE TABLE bench_seed (clients bigint NOT NULL, contacts bigint NOT NULL, orders bigint NOT NULL,
                         digest text NOT NULL, seeded_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_seed (clients, contacts, orders, digest) VALUES (:clients, :contacts, :orders, :'digest');
COMMIT;
VACUUM ANALYZE;
