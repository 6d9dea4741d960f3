-- Least SQL for `graphql_contact_orders` (POST /graphql, GRAPHQL_CONTACT_ORDERS
-- of bench/load.rs: a contact, its stats, its first 10 orders with their
-- lines): the read ceiling the service's ratio is measured against (issue
-- 13). One statement for the whole answer: the contact by primary key with
-- the fields the query selects (its stats stored in the row), and in the same
-- row its first 10 orders by (created_at, id) (the query asks no pageInfo, so
-- no 11th) with the fields selected, each with its lines by position,
-- aggregated to JSON in Postgres (LATERAL subqueries on the orders' contact
-- index and the lines' primary key). One round trip, no transaction, nothing
-- read that the answer does not hold: that is why it is the least a
-- hand-written resolver layer would send (no parsing or validating of the
-- GraphQL document is counted).
\set c random(1, :customers)
SELECT c.id, c.first_name, c.last_name, c.email, c.status, c.orders_count, c.total_spent_cents, p.orders FROM contacts c CROSS JOIN LATERAL (SELECT coalesce(json_agg(json_build_object('id', o.id, 'number', o.number, 'status', o.status, 'totalCents', o.total_cents, 'currency', o.currency, 'orderedAt', o.ordered_at, 'lines', l.lines) ORDER BY o.created_at, o.id), '[]') AS orders FROM (SELECT id, number, status, total_cents, currency, ordered_at, created_at FROM orders WHERE contact_id = c.id ORDER BY created_at, id LIMIT 10) o CROSS JOIN LATERAL (SELECT coalesce(json_agg(json_build_object('sku', x.sku, 'name', x.name, 'quantity', x.quantity, 'unitPriceCents', x.unit_price_cents) ORDER BY x.position), '[]') AS lines FROM order_lines x WHERE x.order_id = o.id) l) p WHERE c.id = bench_id(2, :c);
