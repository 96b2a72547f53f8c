-- UserInfo answers the claims request's "userinfo" member for every access token of a
-- grant (also those issued by refreshing, after the code is pruned), found by the token's jti.
ALTER TABLE grants ADD COLUMN claims_request TEXT;
CREATE INDEX authorization_codes_access_jti ON authorization_codes(access_jti);
CREATE INDEX refresh_tokens_access_jti ON refresh_tokens(access_jti);
