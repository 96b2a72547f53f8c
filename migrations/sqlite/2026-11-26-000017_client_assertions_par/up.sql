-- How each client authenticates at the token, PAR, introspection and revocation endpoints
-- (OIDC Registration's token_endpoint_auth_method); existing rows keep what they did.
ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
UPDATE clients SET token_endpoint_auth_method = 'none' WHERE is_public;
-- A private_key_jwt client's public keys: inline (a JWKS document) or where to fetch them.
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT 0;

-- RFC 7523 §3: the jti of every accepted client assertion, until the assertion expires, so
-- a replay is refused on every instance sharing this database.
CREATE TABLE client_assertion_jtis (
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    jti TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires ON client_assertion_jtis(expires_at);

-- RFC 9126 pushed authorization requests, found by the digest of their request_uri. A row
-- is claimed (used) while an authorization answers with it, so it yields one answer.
CREATE TABLE pushed_requests (
    request_uri_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    -- The pushed parameters, form-encoded.
    params TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX pushed_requests_expires ON pushed_requests(expires_at);
