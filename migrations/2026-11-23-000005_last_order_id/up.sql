-- The id of the order behind last_order_at / last_order_total_cents, so that
-- stats move by delta even when a new order ties on the latest date (orders
-- imported with a day's precision all tie). NULL where unknown: the next
-- write that needs it recounts that row from its orders.
ALTER TABLE clients ADD COLUMN last_order_id uuid;
ALTER TABLE contacts ADD COLUMN last_order_id uuid;
