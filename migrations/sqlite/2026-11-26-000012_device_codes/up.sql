-- RFC 8628 device authorizations: a device asked, a user approves or denies at /device,
-- the device polls the token endpoint. Both codes are stored only as digests, so a copy of
-- the database redeems nothing and names no code a user could be tricked into typing.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY NOT NULL,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    -- pending, approved, denied, issued
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- The polling interval in seconds; each too-early poll adds 5 (RFC 8628 §3.5).
    poll_interval BIGINT NOT NULL,
    last_polled_at BIGINT,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    auth_time BIGINT,
    -- How the approving user signed in (the session's methods), for the ID token's amr.
    amr TEXT,
    session_id TEXT,
    decided_at BIGINT
);
CREATE INDEX device_codes_expires ON device_codes(expires_at);
