-- Least SQL for `consent_grant` (POST /v1/contacts/<id>/consents, a grant):
-- the bar the service's ratio is measured against. It counts only the
-- durable work the request has to leave behind: the consent event inserted
-- (its foreign keys check the contact and the purpose), one event row (with
-- a payload the size of the service's), one audit entry, one commit. No
-- read or lock of the contact first, no suppression update (a no-op unless
-- the contact was suppressed), no webhook fan-out (no subscription in the
-- bench database): that is why it is the least.
\set n random(1, :contacts)
BEGIN;
INSERT INTO consent_events (id, contact_id, purpose, status, channel, collected_at, proof, recorded_by) VALUES (gen_random_uuid(), bench_id(2, :n), 'email_marketing', 'granted', 'web_form', '2026-11-01 10:00:00+00', '{"ip": null, "method": "double_opt_in", "wording": "Send me your offers by email", "form_url": null, "user_agent": null, "evidence_ref": null, "wording_version": null}', 'bench') RETURNING id, contact_id, purpose, status, channel, collected_at, proof, recorded_by, recorded_at;
INSERT INTO events (id, type, resource_type, resource_id, changed_fields, data) VALUES (gen_random_uuid(), 'consent.granted', 'contact', bench_id(2, :n)::text, '["consents.email_marketing"]', '{"id": "01a20849-7253-72e3-9779-b653ba228259", "proof": {"ip": null, "method": "double_opt_in", "wording": "Send me your offers by email", "form_url": null, "user_agent": null, "evidence_ref": null, "wording_version": null}, "status": "granted", "channel": "web_form", "purpose": "email_marketing", "contact_id": "00000002-0000-7000-8000-000000000002", "recorded_at": "2026-11-23T12:02:40.850848Z", "recorded_by": "bench"}');
INSERT INTO audit_pending (id, at, actor, action, resource_type, resource_id, request_id, fields) VALUES (gen_random_uuid(), now(), 'bench', 'consent.granted', 'contact', bench_id(2, :n)::text, gen_random_uuid()::text, '["consents.email_marketing"]');
COMMIT;
