-- Export jobs (API.md §9): a bulk export of whole resources, run by a
-- background worker into files on disk (CLIENTELE_EXPORT_DIR), kept 7 days.
-- The state lives here so that a job survives a restart and any replica can
-- take it: a worker claims a queued job with FOR UPDATE SKIP LOCKED, and
-- keeps `heartbeat_at` fresh while it runs; a `running` job whose heartbeat
-- is stale was left by a dead worker and is claimed again. `attempt` fences
-- the workers: every write of a worker names the attempt it claimed, so one
-- that lost its job (claimed again after a long pause) can no longer write.
CREATE TABLE export_jobs (
    id uuid PRIMARY KEY,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    resources text[] NOT NULL
        CHECK (cardinality(resources) BETWEEN 1 AND 4
               AND resources <@ ARRAY['clients', 'contacts', 'orders', 'consents']),
    format text NOT NULL CHECK (format IN ('ndjson', 'csv')),
    -- The token `sub` that asked (an integrator or staff account, not a data subject).
    requested_by text NOT NULL,
    request_id text,
    attempt integer NOT NULL DEFAULT 0,
    -- Rows written so far per resource (`{"contacts": 1200}`), and their sum.
    row_counts jsonb NOT NULL DEFAULT '{}',
    rows_done bigint NOT NULL DEFAULT 0,
    -- Why a job failed, in words that hold no personal data.
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    heartbeat_at timestamptz,
    finished_at timestamptz,
    -- finished_at + 7 days: then the sweep deletes the files and the job.
    expires_at timestamptz,
    CHECK (status NOT IN ('completed', 'failed') OR finished_at IS NOT NULL)
);
-- The worker's claim and the sweep.
CREATE INDEX export_jobs_pending_idx ON export_jobs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX export_jobs_expires_idx ON export_jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX export_jobs_list_idx ON export_jobs (created_at, id);

-- The files of a job, numbered from 1 across its resources; a resource's
-- rows are split into files of at most 1,000,000 rows.
CREATE TABLE export_files (
    job_id uuid NOT NULL REFERENCES export_jobs (id) ON DELETE CASCADE,
    n integer NOT NULL CHECK (n >= 1),
    resource text NOT NULL CHECK (resource IN ('clients', 'contacts', 'orders', 'consents')),
    rows bigint NOT NULL CHECK (rows >= 0),
    bytes bigint NOT NULL CHECK (bytes >= 0),
    -- Lowercase hex SHA-256 of the file's bytes, computed while writing.
    sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- Relative to CLIENTELE_EXPORT_DIR: `{job id}/{attempt}/{n}-{resource}.{ext}`.
    path text NOT NULL,
    PRIMARY KEY (job_id, n)
);
