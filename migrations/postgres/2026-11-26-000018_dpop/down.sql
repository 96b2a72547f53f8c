DROP TABLE dpop_nonces;
DROP TABLE dpop_proofs;
ALTER TABLE refresh_tokens DROP COLUMN dpop_jkt;
ALTER TABLE clients DROP COLUMN dpop_bound_access_tokens;
