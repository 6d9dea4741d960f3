-- Least SQL for `get_client` (GET /v1/clients/<id>): the read ceiling the
-- service's ratio is measured against (issue 13). One statement: the
-- client's row by primary key, every column the API returns, its stats
-- included (orders_count ... spent_last_12m_cents are stored in the row, kept
-- by the writes), no transaction around it. Nothing else is needed to answer,
-- so nothing less can: that is why it is the least.
\set k random(1, :clients)
SELECT id, name, status, siren, siret, vat_number, naf_code, sector, employee_count, annual_revenue_cents, currency, website, billing_address, acquisition_channel, owner, tags, custom_fields, orders_count, total_spent_cents, spent_last_12m_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version FROM clients WHERE id = bench_id(1, :k);
