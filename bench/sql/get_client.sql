\set k random(1, :clients)
SELECT id, name, status, siren, siret, vat_number, naf_code, sector, employee_count, annual_revenue_cents, currency, website, billing_address, acquisition_channel, owner, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version FROM clients WHERE id = bench_id(1, :k) LIMIT 1;
SELECT client_id, total_cents FROM orders WHERE client_id = ANY(ARRAY[bench_id(1, :k)]) AND status = ANY('{pending,paid,fulfilled}'::text[]) AND ordered_at >= now() - interval '12 months';
