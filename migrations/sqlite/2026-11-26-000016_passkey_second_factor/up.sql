-- The address that asked for an unauthenticated passkey sign-in's options, so the live
-- ceremonies one address may hold are bounded (see src/passkeys/sign_in.rs). Ceremonies of
-- a signed-in user or a pending sign-in have none.
ALTER TABLE webauthn_ceremonies ADD COLUMN address TEXT;
CREATE INDEX webauthn_ceremonies_address ON webauthn_ceremonies(address);
