-- Signing keys, shared by every instance on this database. The private key is a PKCS#8 DER
-- sealed with AES-256-GCM under the key-encryption key (never stored here), the kid as
-- associated data; kek_id names which key-encryption key sealed it. Times in milliseconds,
-- so two rotations within one second still order.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    private_key TEXT NOT NULL,
    nonce TEXT NOT NULL,
    kek_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    activates_at_ms BIGINT NOT NULL,
    retired_at_ms BIGINT
);
