-- How the session's user authenticated (RFC 8176 method names, space-separated; `mfa` is
-- derived, never stored). Sessions from before second factors were password sign-ins.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
-- What an authorization's ID tokens say about that authentication (`amr`, `acr`).
ALTER TABLE grants ADD COLUMN amr TEXT;
ALTER TABLE grants ADD COLUMN acr TEXT;
-- A user's TOTP secret (RFC 6238), sealed under the key-encryption key with the user id as
-- associated data. Active once confirmed by a code; `last_step` is the last time step a
-- code was accepted for, so a code is never accepted twice.
CREATE TABLE totp_secrets (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    nonce TEXT NOT NULL,
    kek_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step BIGINT
);
-- Single-use recovery codes, stored only as digests.
CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes(user_id);
-- A sign-in waiting for its second step, bound to the browser by a cookie (its digest is
-- the key). `session_hash` is set when an existing session is being stepped up.
CREATE TABLE pending_logins (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_hash TEXT,
    amr TEXT NOT NULL,
    return_to TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pending_logins_user ON pending_logins(user_id);
-- Server-wide settings administrators change in the console (audited there).
CREATE TABLE server_settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT
);
