DROP TABLE revoked_tokens;
ALTER TABLE dsar_requests DROP COLUMN external_id;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE events;
