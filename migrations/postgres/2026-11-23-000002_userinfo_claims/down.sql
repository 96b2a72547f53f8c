DROP INDEX refresh_tokens_access_jti;
DROP INDEX authorization_codes_access_jti;
ALTER TABLE grants DROP COLUMN claims_request;
