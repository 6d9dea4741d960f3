-- Least SQL for `contact_orders` (GET /v1/contacts/<id>/orders, the first
-- page): the read ceiling the service's ratio is measured against (issue 13).
-- One statement for the whole answer: the contact by primary key (a missing
-- contact is a 404, not an empty page, so it is part of the answer), and in
-- the same row its first 51 orders by (created_at, id) (50 and one to know
-- whether there is a next page), every column the API returns, each with its
-- lines by position, aggregated to JSON in Postgres (LATERAL subqueries on
-- the orders' contact index and the lines' primary key). One round trip, no
-- transaction, nothing read that the answer does not hold: that is why it is
-- the least a hand-written data layer would send.
\set c random(1, :customers)
SELECT c.id, p.orders FROM contacts c CROSS JOIN LATERAL (SELECT coalesce(json_agg(json_build_object('id', o.id, 'client_id', o.client_id, 'contact_id', o.contact_id, 'source', o.source, 'external_id', o.external_id, 'number', o.number, 'status', o.status, 'currency', o.currency, 'total_cents', o.total_cents, 'ordered_at', o.ordered_at, 'lines', l.lines, 'created_at', o.created_at, 'updated_at', o.updated_at, 'version', o.version) ORDER BY o.created_at, o.id), '[]') AS orders FROM (SELECT * FROM orders WHERE contact_id = c.id ORDER BY created_at, id LIMIT 51) o CROSS JOIN LATERAL (SELECT coalesce(json_agg(json_build_object('sku', x.sku, 'name', x.name, 'quantity', x.quantity, 'unit_price_cents', x.unit_price_cents) ORDER BY x.position), '[]') AS lines FROM order_lines x WHERE x.order_id = o.id) l) p WHERE c.id = bench_id(2, :c);
