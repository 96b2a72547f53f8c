ALTER TABLE authorization_codes ADD COLUMN code_challenge_method TEXT;
ALTER TABLE refresh_tokens DROP COLUMN access_exp;
ALTER TABLE authorization_codes DROP COLUMN access_exp;
