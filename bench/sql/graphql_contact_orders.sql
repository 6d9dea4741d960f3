\set c random(1, :customers)
\set c2 :c + :customers
\set c3 :c + 2 * :customers
\set c4 :c + 3 * :customers
SELECT id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version FROM contacts WHERE id = bench_id(2, :c) LIMIT 1;
SELECT contact_id, total_cents FROM orders WHERE contact_id = ANY(ARRAY[bench_id(2, :c)]) AND status = ANY('{pending,paid,fulfilled}'::text[]) AND ordered_at >= now() - interval '12 months';
SELECT id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at, created_at, updated_at, version FROM orders WHERE orders.id IN (SELECT c.id FROM unnest(ARRAY[bench_id(2, :c)]) AS p(id) CROSS JOIN LATERAL (SELECT x.id FROM orders x WHERE x.contact_id = p.id AND (NULL::timestamptz IS NULL OR (x.created_at, x.id) > (NULL, NULL::uuid)) ORDER BY x.created_at, x.id LIMIT 11) c) ORDER BY contact_id, created_at, id;
SELECT order_id, position, sku, name, quantity, unit_price_cents FROM order_lines WHERE order_id = ANY(ARRAY[bench_id(3, :c), bench_id(3, :c2), bench_id(3, :c3), bench_id(3, :c4)]) ORDER BY order_id, position;
