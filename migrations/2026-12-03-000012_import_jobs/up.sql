-- Import jobs (API.md §9): a CSV or NDJSON file of clients, contacts, orders
-- or consents, written row by row through the same validation, events and
-- audit as the API by a background worker.
--
-- The upload is parsed as it is received into `import_rows` (one record per
-- row, with its line in the file): the state lives here, so any replica can
-- run the job and a restart resumes it. A worker claims a queued job (or a
-- running one whose heartbeat is stale: its worker died) with FOR UPDATE
-- SKIP LOCKED under a new `attempt`, then works through the rows in chunks:
-- each chunk's writes, the deletion of its rows, its errors and the job's
-- counters commit in one transaction that first re-locks the job at that
-- attempt. A chunk is therefore done exactly once, whoever crashes when.
-- Rows hold personal data only until their chunk is processed (or the job
-- is cancelled or fails); errors never hold a submitted value.
CREATE TABLE import_jobs (
    id uuid PRIMARY KEY,
    -- `receiving` while the upload is parsed (not visible through the API).
    status text NOT NULL DEFAULT 'receiving'
        CHECK (status IN ('receiving', 'queued', 'running', 'completed', 'failed', 'cancelled')),
    resource text NOT NULL CHECK (resource IN ('clients', 'contacts', 'orders', 'consents')),
    format text NOT NULL CHECK (format IN ('csv', 'ndjson')),
    match_on text CHECK (match_on IN ('email', 'external_id', 'siren')),
    dry_run boolean NOT NULL DEFAULT false,
    -- Stamped on every contact the job creates (API.md §8); no personal data.
    provenance jsonb,
    -- The token `sub` that asked (an integrator or staff account).
    requested_by text NOT NULL,
    request_id text,
    -- A retry with the same key and the same file gets this job back.
    idempotency_key text CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    body_sha256 text CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
    bytes bigint NOT NULL DEFAULT 0 CHECK (bytes >= 0),
    attempt integer NOT NULL DEFAULT 0,
    rows_total bigint NOT NULL DEFAULT 0 CHECK (rows_total >= 0),
    rows_done bigint NOT NULL DEFAULT 0 CHECK (rows_done >= 0),
    created bigint NOT NULL DEFAULT 0 CHECK (created >= 0),
    updated bigint NOT NULL DEFAULT 0 CHECK (updated >= 0),
    unchanged bigint NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    failed bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    skipped bigint NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    -- Why a job failed, in words that hold no personal data.
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    heartbeat_at timestamptz,
    finished_at timestamptz,
    -- finished_at + 7 days: then the sweep deletes the job and its errors.
    expires_at timestamptz,
    CHECK (rows_done <= rows_total),
    CHECK (created + updated + unchanged + failed + skipped = rows_done),
    CHECK (status NOT IN ('completed', 'failed', 'cancelled') OR finished_at IS NOT NULL)
);
CREATE INDEX import_jobs_pending_idx ON import_jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX import_jobs_expires_idx ON import_jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX import_jobs_list_idx ON import_jobs (created_at, id) WHERE status <> 'receiving';
CREATE UNIQUE INDEX import_jobs_idempotency_idx ON import_jobs (requested_by, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- The records still to process, in file order.
CREATE TABLE import_rows (
    job_id uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    n bigint NOT NULL CHECK (n >= 1),
    -- The line of the file where the record starts (the CSV header is line 1).
    line bigint NOT NULL CHECK (line >= 1),
    -- The record: a JSON object (CSV: header → cell) or the NDJSON line as sent.
    data text NOT NULL,
    PRIMARY KEY (job_id, n)
);

-- One row per failing field of a failed row.
CREATE TABLE import_errors (
    job_id uuid NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line bigint NOT NULL CHECK (line >= 1),
    seq integer NOT NULL CHECK (seq >= 0),
    field text NOT NULL,
    code text NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (job_id, line, seq)
);
