-- Least SQL for `list_contacts` (GET /v1/contacts?limit=50&after=<cursor>):
-- the read ceiling the service's ratio is measured against (issue 13). One
-- statement: the keyset page of 51 rows (50 and one to know whether there is
-- a next page) after the (created_at, id) the cursor carries, on the
-- (created_at, id) index, every column the API returns with the stats stored
-- in the rows. The cursor holds both values, so nothing is looked up first:
-- the seed's created_at of contact n is rebuilt in SQL from n (the formula of
-- bench/seed.sql; a constant, not a query) where the service decodes it from
-- the cursor. That is why it is the least.
\set n random(1, :contacts - 50)
SELECT id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, spent_last_12m_cents, first_order_at, last_order_at, last_order_total_cents, audience, provenance, art14_notice_due_at, art14_notice_sent_at, created_at, updated_at, version FROM contacts WHERE (created_at, id) > (timestamptz '2023-06-01 00:00:00+00' + :n * interval '80 seconds' * (1000000.0 / :contacts), bench_id(2, :n)) ORDER BY created_at, id LIMIT 51;
