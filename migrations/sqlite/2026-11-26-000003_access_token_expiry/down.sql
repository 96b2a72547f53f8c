ALTER TABLE refresh_tokens DROP COLUMN access_exp;
ALTER TABLE authorization_codes DROP COLUMN access_exp;
