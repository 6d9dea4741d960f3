-- Least SQL for `batch_orders` (POST /v1/orders/batch, 1,000 orders of 2
-- lines): the bar the service's ratio is measured against, in orders/s
-- (1,000 a transaction). It counts only the durable work the batch has to
-- leave behind, set-based, one statement per table whatever the batch size:
-- the 1,000 orders upserted by their natural key, their 2,000 lines
-- upserted by position (any further lines deleted), one event row per
-- order (payload the size of the service's), one audit entry per order, one
-- commit. The orders come in as an array (unnest; pgbench builds it in SQL
-- where the service would bind it). No read or lock before the writes, no
-- stored stats (a cache the service chooses to keep), no webhook fan-out
-- (no subscription in the bench database): that is why it is the least.
-- Same orders and owners as ../batch_orders.sql (one order per customer
-- contact, disjoint between bases, ascending so concurrent batches cannot
-- deadlock); load.rs recounts stats afterwards.
\set base random(1, :customers / 1000)
BEGIN;
INSERT INTO orders AS o (id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at) SELECT bench_id(3, m), CASE WHEN ((m - 1) % :customers + 1) % 10 = 0 THEN NULL ELSE bench_id(1, ((m - 1) % :customers) % :clients + 1) END, bench_id(2, (m - 1) % :customers + 1), 'shopify', 'ord-' || m, '#' || (100000 + m), 'paid', 'EUR', 1000 + m % 20000, timestamptz '2026-10-01 12:00:00+00' FROM unnest(ARRAY(SELECT :base + j * (:customers / 1000) FROM generate_series(0, 999) j)) AS x(m) ON CONFLICT (source, external_id) DO UPDATE SET client_id = excluded.client_id, contact_id = excluded.contact_id, number = excluded.number, status = excluded.status, currency = excluded.currency, total_cents = excluded.total_cents, ordered_at = excluded.ordered_at, version = o.version + 1, updated_at = now();
INSERT INTO order_lines AS l (order_id, position, sku, name, quantity, unit_price_cents) SELECT bench_id(3, m), p, 'SKU-' || p, 'Product ' || p, p + 1, 500 + m % 1000 FROM unnest(ARRAY(SELECT :base + j * (:customers / 1000) FROM generate_series(0, 999) j)) AS x(m), generate_series(0, 1) p ON CONFLICT (order_id, position) DO UPDATE SET sku = excluded.sku, name = excluded.name, quantity = excluded.quantity, unit_price_cents = excluded.unit_price_cents;
DELETE FROM order_lines WHERE order_id = ANY(ARRAY(SELECT bench_id(3, m) FROM unnest(ARRAY(SELECT :base + j * (:customers / 1000) FROM generate_series(0, 999) j)) AS x(m))) AND position >= 2;
INSERT INTO events (id, type, resource_type, resource_id, changed_fields, data) SELECT gen_random_uuid(), 'order.updated', 'order', bench_id(3, m)::text, '["status", "total_cents", "lines"]', '{"id": "00000003-0000-7000-8000-000000000002", "lines": [{"sku": "SKU-2", "name": "Product 2", "quantity": 1, "unit_price_cents": 1000}, {"sku": "SKU-502", "name": "Product 502", "quantity": 2, "unit_price_cents": 1000}], "number": "#100002", "source": "shopify", "status": "paid", "version": 2, "currency": "EUR", "client_id": "00000001-0000-7000-8000-000000000002", "contact_id": "00000002-0000-7000-8000-000000000002", "created_at": "2023-12-01T02:31:00Z", "ordered_at": "2026-10-01T12:00:00Z", "updated_at": "2026-11-23T12:02:39.833722Z", "external_id": "ord-2", "total_cents": 3000}' FROM unnest(ARRAY(SELECT :base + j * (:customers / 1000) FROM generate_series(0, 999) j)) AS x(m);
INSERT INTO audit_pending (id, at, actor, action, resource_type, resource_id, request_id, fields) SELECT gen_random_uuid(), now(), 'bench', 'order.updated', 'order', bench_id(3, m)::text, 'req', '["status", "total_cents", "lines"]' FROM unnest(ARRAY(SELECT :base + j * (:customers / 1000) FROM generate_series(0, 999) j)) AS x(m);
COMMIT;
