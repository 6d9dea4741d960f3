-- What the GraphQL `contact { orders(first: 10) { lines } }` sends
-- (log_statement, 2026-12-04): the contact, then (the loader's batch) its
-- first 11 orders and their lines; three prepared statements.
\set c random(1, :customers)
\set c2 :c + :customers
\set c3 :c + 2 * :customers
\set c4 :c + 3 * :customers
SELECT id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version, audience, provenance, art14_notice_due_at, art14_notice_sent_at, spent_last_12m_cents FROM contacts WHERE id = bench_id(2, :c) LIMIT 1;
SELECT id, client_id, contact_id, source, external_id, number, status, currency, total_cents, ordered_at, created_at, updated_at, version FROM orders WHERE contact_id = bench_id(2, :c) ORDER BY created_at, id LIMIT 11;
SELECT order_id, position, sku, name, quantity, unit_price_cents FROM order_lines WHERE order_id = ANY(ARRAY[bench_id(3, :c), bench_id(3, :c2), bench_id(3, :c3), bench_id(3, :c4)]) ORDER BY order_id, position;
