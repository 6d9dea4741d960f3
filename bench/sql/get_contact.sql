\set n random(1, :contacts)
SELECT id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version FROM contacts WHERE id = bench_id(2, :n) LIMIT 1;
SELECT contact_id, total_cents FROM orders WHERE contact_id = ANY(ARRAY[bench_id(2, :n)]) AND status = ANY('{pending,paid,fulfilled}'::text[]) AND ordered_at >= now() - interval '12 months';
