-- The refresh grace: the answer a rotation gave, sealed (AES-256-GCM) under a key derived
-- from the rotated token itself, so a client presenting that token again moments later
-- gets the same successor pair. Nothing readable without the old token is stored.
ALTER TABLE refresh_tokens ADD COLUMN successor BLOB;
