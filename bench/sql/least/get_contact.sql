-- Least SQL for `get_contact` (GET /v1/contacts/<id>): the read ceiling the
-- service's ratio is measured against (issue 13). One statement: the
-- contact's row by primary key, every column the API returns, its stats
-- included (orders_count ... spent_last_12m_cents are stored in the row, kept
-- by the writes), no transaction around it. Nothing else is needed to answer,
-- so nothing less can: that is why it is the least.
\set n random(1, :contacts)
SELECT id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, spent_last_12m_cents, first_order_at, last_order_at, last_order_total_cents, audience, provenance, art14_notice_due_at, art14_notice_sent_at, created_at, updated_at, version FROM contacts WHERE id = bench_id(2, :n);
