DROP INDEX dsar_requests_verify_contact_idx;
DROP INDEX dsar_requests_mail_idx;
DROP INDEX dsar_requests_unverified_idx;
DROP INDEX dsar_requests_verify_token_idx;
ALTER TABLE dsar_requests DROP CONSTRAINT dsar_requests_approval_check;
ALTER TABLE dsar_requests DROP CONSTRAINT dsar_requests_link_check;
ALTER TABLE dsar_requests DROP CONSTRAINT dsar_requests_verified_check;
UPDATE dsar_requests SET status = 'rejected', rejection_reason = 'identity not verified'
    WHERE status IN ('identity_unverified', 'expired');
ALTER TABLE dsar_requests
    DROP COLUMN verification, DROP COLUMN verified_at, DROP COLUMN verify_nonce, DROP COLUMN verify_token_hash,
    DROP COLUMN verify_expires_at, DROP COLUMN verify_contact_id, DROP COLUMN verify_mail,
    DROP COLUMN verify_mail_attempts, DROP COLUMN verify_mail_next_at, DROP COLUMN approved_by, DROP COLUMN approved_at;
ALTER TABLE dsar_requests DROP CONSTRAINT dsar_requests_status_check;
ALTER TABLE dsar_requests ADD CONSTRAINT dsar_requests_status_check
    CHECK (status IN ('received', 'completed', 'rejected'));
