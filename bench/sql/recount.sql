-- Not a ceiling: run by load.rs after a write ceiling, with -v since=<time
-- before it>. Recounts the stored stats of the owners of every order
-- updated since then (the ceilings' stats deltas are placeholders).
\set ON_ERROR_STOP on
UPDATE clients t SET orders_count = s.n, total_spent_cents = s.total, first_order_at = s.first,
       last_order_at = s.last, last_order_total_cents = l.total_cents, last_order_id = l.id
FROM (SELECT DISTINCT client_id AS id FROM orders WHERE updated_at >= :'since' AND client_id IS NOT NULL) ids
CROSS JOIN LATERAL (
  SELECT count(*) AS n, coalesce(sum(total_cents), 0)::bigint AS total, min(ordered_at) AS first,
         max(ordered_at) AS last
  FROM orders WHERE client_id = ids.id AND status IN ('pending', 'paid', 'fulfilled')) s
LEFT JOIN LATERAL (SELECT id, total_cents FROM orders WHERE client_id = ids.id AND status IN ('pending', 'paid', 'fulfilled')
                   ORDER BY ordered_at DESC, id DESC LIMIT 1) l ON true
WHERE t.id = ids.id;
UPDATE contacts t SET orders_count = s.n, total_spent_cents = s.total, first_order_at = s.first,
       last_order_at = s.last, last_order_total_cents = l.total_cents, last_order_id = l.id
FROM (SELECT DISTINCT contact_id AS id FROM orders WHERE updated_at >= :'since' AND contact_id IS NOT NULL) ids
CROSS JOIN LATERAL (
  SELECT count(*) AS n, coalesce(sum(total_cents), 0)::bigint AS total, min(ordered_at) AS first,
         max(ordered_at) AS last
  FROM orders WHERE contact_id = ids.id AND status IN ('pending', 'paid', 'fulfilled')) s
LEFT JOIN LATERAL (SELECT id, total_cents FROM orders WHERE contact_id = ids.id AND status IN ('pending', 'paid', 'fulfilled')
                   ORDER BY ordered_at DESC, id DESC LIMIT 1) l ON true
WHERE t.id = ids.id;
