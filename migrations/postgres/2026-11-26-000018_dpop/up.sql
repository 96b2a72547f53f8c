-- DPoP (RFC 9449). A client with dpop_bound_access_tokens must send a proof with every
-- token request (RFC 9449 §5.2, the registration parameter of the same name).
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
-- The JWK thumbprint a public client's refresh token is bound to (§5): refreshing needs a
-- proof signed with that key.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
-- Proofs already seen (the SHA-256 of the key's thumbprint and the proof's jti), kept until
-- no proof with that iat would be accepted any more: a replay on any instance is refused.
CREATE TABLE dpop_proofs (
    proof_hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dpop_proofs_expires ON dpop_proofs(expires_at);
-- Server nonces handed out in DPoP-Nonce (§8), by digest, until they expire.
CREATE TABLE dpop_nonces (
    nonce_hash TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dpop_nonces_expires ON dpop_nonces(expires_at);
