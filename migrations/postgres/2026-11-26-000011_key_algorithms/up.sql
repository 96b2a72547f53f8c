-- The algorithm each client's ID tokens (OIDC Registration's id_token_signed_response_alg)
-- and access tokens are signed with: RS256, PS256, ES256 or EdDSA. Existing clients keep
-- RS256, the default for everything.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256';
ALTER TABLE clients ADD COLUMN access_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256';
