-- Least SQL for `patch_contact` (PATCH /v1/contacts/<id> setting job_title):
-- the bar the service's ratio is measured against. It counts only the
-- durable work the request has to leave behind: the contact row updated
-- (the changed field, version, updated_at; RETURNING gives the new row for
-- the answer, so nothing is read first), one event row (with a payload the
-- size of the service's), one audit entry, one commit. No separate read or
-- row lock, no stats query (the 12-month spend is part of the answer, not of
-- the write), no webhook fan-out (no subscription in the bench database):
-- that is why it is the least.
\set n random(1, :contacts)
\set v random(1, 1000000)
BEGIN;
UPDATE contacts SET job_title = 'Buyer ' || :v, version = version + 1, updated_at = now() WHERE id = bench_id(2, :n) RETURNING id, client_id, first_name, last_name, email, phone, job_title, birth_date, status, source, lawful_basis, restricted, last_interaction_at, tags, custom_fields, orders_count, total_spent_cents, first_order_at, last_order_at, last_order_total_cents, created_at, updated_at, version;
INSERT INTO events (id, type, resource_type, resource_id, changed_fields, data) VALUES (gen_random_uuid(), 'contact.updated', 'contact', bench_id(2, :n)::text, '["job_title"]', '{"id": "00000002-0000-7000-8000-000000000002", "tags": [], "email": "lea.dubois.2@example.com", "phone": "+33600000002", "stats": {"orders_count": 4, "last_order_at": "2026-06-26T13:00:00Z", "first_order_at": "2023-12-02T01:00:00Z", "total_spent_cents": 100216, "spent_last_12m_cents": 14354, "last_order_total_cents": 14354}, "source": "import", "status": "customer", "version": 2, "client_id": "00000001-0000-7000-8000-000000000002", "job_title": "Buyer 42", "last_name": "Dubois", "birth_date": null, "created_at": "2023-06-01T00:02:40Z", "first_name": "Léa", "restricted": false, "updated_at": "2026-11-23T12:02:38.811537Z", "lawful_basis": "contract", "custom_fields": {}, "last_interaction_at": null}');
INSERT INTO audit_pending (id, at, actor, action, resource_type, resource_id, request_id, fields) VALUES (gen_random_uuid(), now(), 'bench', 'contact.updated', 'contact', bench_id(2, :n)::text, gen_random_uuid()::text, '["job_title"]');
COMMIT;
