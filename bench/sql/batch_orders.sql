\set base random(1, :customers / 1000)
BEGIN;
-- repeat 1000
\set m :base + {j} * (:customers / 1000)
\set c (:m - 1) % :customers + 1
\set k (:c - 1) % :clients + 1
\set a random(500, 20499)
\set b random(250, 10249)
SELECT id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at, created_at, updated_at, version FROM orders WHERE source = 'shopify' AND external_id = 'ord-' || :m LIMIT 1 FOR UPDATE;
SELECT order_id, position, sku, name, quantity, unit_price_cents FROM order_lines WHERE order_id = ANY(ARRAY[bench_id(3, :m)]) ORDER BY order_id, position;
UPDATE orders SET client_id = bench_id(1, :k), contact_id = bench_id(2, :c), source = 'shopify', external_id = 'ord-' || :m, number = '#' || (100000 + :m), status = 'paid', currency = 'EUR', total_cents = :a + 2 * :b, ordered_at = '2026-10-01 12:00:00+00', version = version + 1, updated_at = CURRENT_TIMESTAMP WHERE id = bench_id(3, :m) RETURNING id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at, created_at, updated_at, version;
DELETE FROM order_lines WHERE order_id = bench_id(3, :m);
INSERT INTO order_lines (order_id, position, sku, name, quantity, unit_price_cents) VALUES (bench_id(3, :m), 0, 'SKU-2', 'Product 2', 1, :a), (bench_id(3, :m), 1, 'SKU-502', 'Product 502', 2, :b);
SELECT seq + 1 AS seq, hash AS prev FROM audit_head LIMIT 1 FOR UPDATE \gset
INSERT INTO audit_log (seq, id, at, actor, action, resource_type, resource_id, request_id, fields, prev_hash, hash) VALUES (:seq, gen_random_uuid(), now(), 'bench', 'order.updated', 'order', bench_id(3, :m)::text, gen_random_uuid()::text, '["status", "total_cents", "lines"]', :prev, sha256(:prev));
UPDATE audit_head SET seq = :seq, hash = sha256(:prev);
INSERT INTO events (id, type, resource_type, resource_id, changed_fields, data) VALUES (gen_random_uuid(), 'order.updated', 'order', bench_id(3, :m)::text, '["status", "total_cents", "lines"]', '{"id": "00000003-0000-7000-8000-000000000002", "lines": [{"sku": "SKU-2", "name": "Product 2", "quantity": 1, "unit_price_cents": 1000}, {"sku": "SKU-502", "name": "Product 502", "quantity": 2, "unit_price_cents": 1000}], "number": "#100002", "source": "shopify", "status": "paid", "version": 2, "currency": "EUR", "client_id": "00000001-0000-7000-8000-000000000002", "contact_id": "00000002-0000-7000-8000-000000000002", "created_at": "2023-12-01T02:31:00Z", "ordered_at": "2026-10-01T12:00:00Z", "updated_at": "2026-11-23T12:02:39.833722Z", "external_id": "ord-2", "total_cents": 3000}') RETURNING seq AS ev_seq, id AS ev_id \gset
INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_seq) SELECT gen_random_uuid(), w.id, :ev_id, :ev_seq FROM webhooks w WHERE w.enabled AND ( (w.dsar_id IS NULL AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(w.events) p WHERE p = '*' OR p = 'order.updated' OR (right(p, 2) = '.*' AND left(p, -2) = split_part('order.updated', '.', 1)))) OR (w.dsar_id::text = bench_id(3, :m)::text AND 'order.updated' LIKE 'dsar.%'));
UPDATE contacts SET last_interaction_at = '2026-10-01 12:00:00+00', updated_at = CURRENT_TIMESTAMP WHERE id = bench_id(2, :c) AND (last_interaction_at IS NULL OR last_interaction_at < '2026-10-01 12:00:00+00');
-- end
-- repeat 1000
\set m :base + {j} * (:customers / 1000)
\set c (:m - 1) % :customers + 1
\set k (:c - 1) % :clients + 1
UPDATE clients t SET orders_count = s.n, total_spent_cents = s.total, first_order_at = s.first, last_order_at = s.last, last_order_total_cents = (SELECT total_cents FROM orders WHERE client_id = bench_id(1, :k) AND status IN ('pending', 'paid', 'fulfilled') ORDER BY ordered_at DESC, id DESC LIMIT 1) FROM (SELECT count(*) AS n, coalesce(sum(total_cents), 0)::bigint AS total, min(ordered_at) AS first, max(ordered_at) AS last FROM orders WHERE client_id = bench_id(1, :k) AND status IN ('pending', 'paid', 'fulfilled')) s WHERE t.id = bench_id(1, :k);
UPDATE clients SET status = 'customer', version = version + 1, updated_at = now() WHERE id = bench_id(1, :k) AND status = 'prospect' AND EXISTS (SELECT 1 FROM orders WHERE client_id = bench_id(1, :k) AND status <> 'cancelled');
UPDATE contacts t SET orders_count = s.n, total_spent_cents = s.total, first_order_at = s.first, last_order_at = s.last, last_order_total_cents = (SELECT total_cents FROM orders WHERE contact_id = bench_id(2, :c) AND status IN ('pending', 'paid', 'fulfilled') ORDER BY ordered_at DESC, id DESC LIMIT 1) FROM (SELECT count(*) AS n, coalesce(sum(total_cents), 0)::bigint AS total, min(ordered_at) AS first, max(ordered_at) AS last FROM orders WHERE contact_id = bench_id(2, :c) AND status IN ('pending', 'paid', 'fulfilled')) s WHERE t.id = bench_id(2, :c);
UPDATE contacts SET status = 'customer', version = version + 1, updated_at = now() WHERE id = bench_id(2, :c) AND status = 'prospect' AND EXISTS (SELECT 1 FROM orders WHERE contact_id = bench_id(2, :c) AND status <> 'cancelled');
-- end
COMMIT;
