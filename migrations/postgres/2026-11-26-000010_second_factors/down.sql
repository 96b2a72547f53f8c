DROP TABLE server_settings;
DROP TABLE pending_logins;
DROP TABLE recovery_codes;
DROP TABLE totp_secrets;
ALTER TABLE grants DROP COLUMN acr;
ALTER TABLE grants DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN amr;
