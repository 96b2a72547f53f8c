DROP TABLE registration_tokens;
ALTER TABLE clients DROP COLUMN registration_metadata;
ALTER TABLE clients DROP COLUMN registration_token_hash;
ALTER TABLE clients DROP COLUMN self_registered;
