-- What `GET /v1/contacts?limit=50&after=<cursor>` sends (log_statement,
-- 2026-12-04): one statement, unnamed (a boxed query: parsed and planned on
-- every request; `pgbench -M prepared` still prepares it, see the note of
-- issue 13), with the cursor's (created_at, id) bound.
\set n random(1, :contacts - 50)
SELECT id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version, audience, provenance, art14_notice_due_at, art14_notice_sent_at, spent_last_12m_cents FROM contacts WHERE (TRUE AND (contacts.created_at, contacts.id) > ((SELECT created_at FROM contacts WHERE id = bench_id(2, :n)), bench_id(2, :n))) ORDER BY created_at, id LIMIT 51;
