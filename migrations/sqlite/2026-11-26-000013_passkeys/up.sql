-- Passkeys (WebAuthn credentials) users registered on their account page. `credential` is
-- the relying-party library's serialised credential (public key, algorithm, signature
-- counter, backup flags): public data, nothing here signs anyone in. `credential_id` is the
-- authenticator's id for it (base64url), unique across all users.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys(user_id);
-- A WebAuthn ceremony between its two requests (options sent, answer awaited), so any
-- instance can finish what another started. Keyed by the digest of the id the browser
-- holds; taken (deleted) by the request that finishes it, so it works once.
CREATE TABLE webauthn_ceremonies (
    id_hash TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
    session_key TEXT,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies(expires_at);
