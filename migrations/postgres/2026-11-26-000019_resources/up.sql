-- The registry of APIs (RFC 8707 resources): what a token's `aud` may name, which scopes
-- it carries there, how long it lives and which algorithm signs it.
CREATE TABLE resources (
    identifier TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    access_token_ttl BIGINT,
    signing_alg TEXT NOT NULL DEFAULT 'RS256',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- The resources a client may ask tokens for, space-separated identifiers.
ALTER TABLE clients ADD COLUMN allowed_resources TEXT NOT NULL DEFAULT '';
-- The resources an authorization named (space-separated); NULL when it named none.
ALTER TABLE grants ADD COLUMN resources TEXT;
