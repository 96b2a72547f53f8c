-- Dynamic client registration (RFC 7591) and its management (RFC 7592). A client that
-- registered itself is marked so (the console shows it; only such clients answer at their
-- registration URI), carries the digest of its registration access token, and keeps the
-- metadata it sent that Tessera stores for it alone (client_uri, logo_uri, contacts ...)
-- as a JSON object.
ALTER TABLE clients ADD COLUMN self_registered BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
ALTER TABLE clients ADD COLUMN registration_metadata TEXT NOT NULL DEFAULT '{}';
-- Initial access tokens admins mint so a client may register when TESSERA_REGISTRATION is
-- `token`. Only the SHA-256 digest is stored; a token works until it expires or is revoked.
CREATE TABLE registration_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    uses BIGINT NOT NULL DEFAULT 0
);
