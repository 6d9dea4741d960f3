-- What `GET /v1/clients/<id>` sends (log_statement, 2026-12-04): one
-- prepared statement, the 12-month spend stored in the row.
\set k random(1, :clients)
SELECT id, name, status, siren, siret, vat_number, naf_code, sector, employee_count, annual_revenue_cents, currency, website, billing_address, acquisition_channel, owner, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version, spent_last_12m_cents FROM clients WHERE id = bench_id(1, :k) LIMIT 1;
