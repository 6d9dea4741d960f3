-- Least SQL for `upsert_order` (PUT /v1/orders/external/shopify/ord-<m>
-- with 2 lines): the bar the service's ratio is measured against. It counts
-- only the durable work the request has to leave behind, however the service
-- does it: the order row upserted by its natural key, its 2 lines replaced
-- (upserted by position, any further lines deleted), one event row (with a
-- payload the size of the service's), one audit entry, one commit. Nothing
-- is read back that the upsert's own RETURNING does not give, no row is
-- locked beyond what the writes lock, and the stored client/contact stats
-- (a cache the service chooses to keep) and the webhook fan-out (no
-- subscription in the bench database, so zero rows) are left out: that is
-- why it is the least. Same ids and owners as ../upsert_order.sql, so no
-- order changes owner; load.rs recounts stats afterwards (README.md).
\set m random(1, :orders)
\set c (:m - 1) % :customers + 1
\set k (:c - 1) % :clients + 1
\set a random(500, 20499)
\set b random(250, 10249)
BEGIN;
INSERT INTO orders AS o (id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at) VALUES (bench_id(3, :m), CASE WHEN :c % 10 = 0 THEN NULL ELSE bench_id(1, :k) END, bench_id(2, :c), 'shopify', 'ord-' || :m, '#' || (100000 + :m), 'paid', 'EUR', :a + 2 * :b, '2026-10-01 12:00:00+00') ON CONFLICT (source, external_id) DO UPDATE SET client_id = excluded.client_id, contact_id = excluded.contact_id, number = excluded.number, status = excluded.status, currency = excluded.currency, total_cents = excluded.total_cents, ordered_at = excluded.ordered_at, version = o.version + 1, updated_at = now() RETURNING o.id AS oid \gset
INSERT INTO order_lines AS l (order_id, position, sku, name, quantity, unit_price_cents) VALUES (:oid, 0, 'SKU-2', 'Product 2', 1, :a), (:oid, 1, 'SKU-502', 'Product 502', 2, :b) ON CONFLICT (order_id, position) DO UPDATE SET sku = excluded.sku, name = excluded.name, quantity = excluded.quantity, unit_price_cents = excluded.unit_price_cents;
DELETE FROM order_lines WHERE order_id = :oid AND position >= 2;
INSERT INTO events (id, type, resource_type, resource_id, changed_fields, data) VALUES (gen_random_uuid(), 'order.updated', 'order', :oid, '["status", "total_cents", "lines"]', '{"id": "00000003-0000-7000-8000-000000000002", "lines": [{"sku": "SKU-2", "name": "Product 2", "quantity": 1, "unit_price_cents": 1000}, {"sku": "SKU-502", "name": "Product 502", "quantity": 2, "unit_price_cents": 1000}], "number": "#100002", "source": "shopify", "status": "paid", "version": 2, "currency": "EUR", "client_id": "00000001-0000-7000-8000-000000000002", "contact_id": "00000002-0000-7000-8000-000000000002", "created_at": "2023-12-01T02:31:00Z", "ordered_at": "2026-10-01T12:00:00Z", "updated_at": "2026-11-23T12:02:39.833722Z", "external_id": "ord-2", "total_cents": 3000}');
INSERT INTO audit_pending (id, at, actor, action, resource_type, resource_id, request_id, fields) VALUES (gen_random_uuid(), now(), 'bench', 'order.updated', 'order', :oid, gen_random_uuid()::text, '["status", "total_cents", "lines"]');
COMMIT;
