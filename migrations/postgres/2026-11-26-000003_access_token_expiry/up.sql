-- A revoked access token is remembered until its own expiry, so the family revocation
-- needs each issued access token's `exp` beside its `jti`.
ALTER TABLE authorization_codes ADD COLUMN access_exp BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN access_exp BIGINT;
-- Only S256 is accepted, so the method was never stored.
ALTER TABLE authorization_codes DROP COLUMN code_challenge_method;
