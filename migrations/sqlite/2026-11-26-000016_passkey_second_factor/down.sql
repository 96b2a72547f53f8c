DROP INDEX webauthn_ceremonies_address;
ALTER TABLE webauthn_ceremonies DROP COLUMN address;
