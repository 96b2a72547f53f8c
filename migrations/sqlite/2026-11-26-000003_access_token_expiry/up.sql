-- A revoked access token is remembered until its own expiry, so the family revocation
-- needs each issued access token's `exp` beside its `jti`.
ALTER TABLE authorization_codes ADD COLUMN access_exp BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN access_exp BIGINT;
-- authorization_codes.code_challenge_method stays (always NULL: only S256 is accepted) so
-- a previous binary keeps working during a rolling upgrade; the schema no longer maps it.
