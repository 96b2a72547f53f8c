-- Failed sign-ins counted per bucket (account + address, address, account), shared by
-- every instance on this database. Buckets are digests: no username or address is kept here.
CREATE TABLE login_throttle (
    bucket TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX login_throttle_updated ON login_throttle(updated_at);
