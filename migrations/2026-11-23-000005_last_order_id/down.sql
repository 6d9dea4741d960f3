ALTER TABLE contacts DROP COLUMN last_order_id;
ALTER TABLE clients DROP COLUMN last_order_id;
