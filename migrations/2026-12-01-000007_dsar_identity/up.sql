-- Identity of data subjects (API.md §10): a request from a `dsar:submit`
-- token waits as `identity_unverified` until the person follows a one-time
-- link sent to the email on file; unverified requests expire after 30 days;
-- an erasure may need a second person's approval.

ALTER TABLE dsar_requests DROP CONSTRAINT dsar_requests_status_check;
ALTER TABLE dsar_requests ADD CONSTRAINT dsar_requests_status_check
    CHECK (status IN ('identity_unverified', 'received', 'completed', 'rejected', 'expired'));

-- How the subject's identity was established: `email_link` (the person
-- followed the link), `partner` (a `dsar:submit_verified` token vouched for
-- it), `controller` (submitted with `dsar:manage`), `legacy` (received before
-- verification existed). NULL while unverified.
ALTER TABLE dsar_requests
    ADD COLUMN verification text CHECK (verification IN ('email_link', 'partner', 'controller', 'legacy')),
    ADD COLUMN verified_at timestamptz,
    -- 16 random bytes; the link's token is an HMAC of the request id and this
    -- nonce under the server's key, so the mailer can rebuild it and the
    -- database alone cannot. Only the token's SHA-256 is stored.
    ADD COLUMN verify_nonce bytea CHECK (length(verify_nonce) = 16),
    ADD COLUMN verify_token_hash bytea CHECK (length(verify_token_hash) = 32),
    ADD COLUMN verify_expires_at timestamptz,
    -- The contact whose email on file receives the link (never the address
    -- the submitter typed, unless it is that one).
    ADD COLUMN verify_contact_id uuid REFERENCES contacts (id) ON DELETE SET NULL,
    -- The outbox of the verification mail, when SMTP is configured.
    ADD COLUMN verify_mail text CHECK (verify_mail IN ('pending', 'sent', 'failed')),
    ADD COLUMN verify_mail_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN verify_mail_next_at timestamptz,
    ADD COLUMN approved_by text CHECK (length(approved_by) <= 200),
    ADD COLUMN approved_at timestamptz;

UPDATE dsar_requests SET verification = 'legacy', verified_at = received_at;

ALTER TABLE dsar_requests ADD CONSTRAINT dsar_requests_verified_check
    CHECK (status NOT IN ('received', 'completed') OR verification IS NOT NULL);
ALTER TABLE dsar_requests ADD CONSTRAINT dsar_requests_link_check
    CHECK ((verify_token_hash IS NULL) OR (status = 'identity_unverified' AND verify_expires_at IS NOT NULL));
ALTER TABLE dsar_requests ADD CONSTRAINT dsar_requests_approval_check
    CHECK ((approved_by IS NULL) = (approved_at IS NULL));

CREATE UNIQUE INDEX dsar_requests_verify_token_idx ON dsar_requests (verify_token_hash)
    WHERE verify_token_hash IS NOT NULL;
CREATE INDEX dsar_requests_unverified_idx ON dsar_requests (created_at) WHERE status = 'identity_unverified';
CREATE INDEX dsar_requests_mail_idx ON dsar_requests (verify_mail_next_at) WHERE verify_mail = 'pending';
CREATE INDEX dsar_requests_verify_contact_idx ON dsar_requests (verify_contact_id) WHERE verify_contact_id IS NOT NULL;
