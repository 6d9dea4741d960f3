-- What `GET /v1/contacts/<id>` sends (log_statement, 2026-12-04): one
-- prepared statement, the 12-month spend stored in the row.
\set n random(1, :contacts)
SELECT id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version, audience, provenance, art14_notice_due_at, art14_notice_sent_at, spent_last_12m_cents FROM contacts WHERE id = bench_id(2, :n) LIMIT 1;
